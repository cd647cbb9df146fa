//! A lock: the resolver's `requirements.txt` output with exact versions and hashes
//! (`name==version \` then `--hash=sha256:…` lines), as stored with a submission and its skill
//! version. Its SHA-256 names the environment built from it.

use model::hot_update::{LockedPackage, PackageChange};
use sha2::{Digest, Sha256};

/// A resolved lock and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub text: String,
    /// SHA-256 of `text`, lower-case hex: the environment's folder name.
    pub hash: String,
}

impl Lock {
    pub fn new(text: String) -> Lock {
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        Lock { text, hash }
    }
}

/// Whether `s` can name an environment (a SHA-256 in lower-case hex): checked before it
/// becomes part of a path.
pub fn is_lock_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The packages a lock pins, in its order (sorted by the resolver).
pub fn packages(text: &str) -> Vec<LockedPackage> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']) && !l.trim().is_empty())
        .filter_map(|l| {
            let pin = l.trim_end_matches('\\').trim();
            let pin = pin.split(';').next().unwrap_or(pin).trim();
            let (name, version) = pin.split_once("==")?;
            Some(LockedPackage {
                name: super::requirements::normalize(name.trim()),
                version: version.trim().to_string(),
            })
        })
        .collect()
}

/// What changes from the live version's packages to the submitted ones: added, removed and
/// changed packages, by name; unchanged ones are left out.
pub fn changes(live: &[LockedPackage], submitted: &[LockedPackage]) -> Vec<PackageChange> {
    let mut names: Vec<&str> = live
        .iter()
        .chain(submitted)
        .map(|p| p.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let version = |list: &[LockedPackage], name: &str| {
        list.iter()
            .find(|p| p.name == name)
            .map(|p| p.version.clone())
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (version(live, name), version(submitted, name));
            (before != after).then(|| PackageChange {
                name: name.to_string(),
                live: before,
                submitted: after,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "et-xmlfile==2.0.0 \\\n    --hash=sha256:aa\nopenpyxl==3.1.5 \\\n    \
                        --hash=sha256:bb \\\n    --hash=sha256:cc\nsix==1.16.0 \\\n    --hash=sha256:dd\n";

    fn pkg(name: &str, version: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn a_lock_lists_its_pins_and_hashes_its_text() {
        assert_eq!(
            packages(LOCK),
            [
                pkg("et-xmlfile", "2.0.0"),
                pkg("openpyxl", "3.1.5"),
                pkg("six", "1.16.0")
            ]
        );
        let lock = Lock::new(LOCK.into());
        assert!(is_lock_hash(&lock.hash));
        assert_ne!(lock.hash, Lock::new(LOCK.replace("bb", "bc")).hash);
        assert!(!is_lock_hash("../etc"));
    }

    #[test]
    fn changes_name_added_removed_and_changed_packages() {
        let live = [
            pkg("openpyxl", "3.1.4"),
            pkg("six", "1.16.0"),
            pkg("pytz", "1"),
        ];
        let new = [
            pkg("openpyxl", "3.1.5"),
            pkg("six", "1.16.0"),
            pkg("numpy", "2.2.6"),
        ];
        let change = |n: &str, l: Option<&str>, s: Option<&str>| PackageChange {
            name: n.into(),
            live: l.map(Into::into),
            submitted: s.map(Into::into),
        };
        assert_eq!(
            changes(&live, &new),
            [
                change("numpy", None, Some("2.2.6")),
                change("openpyxl", Some("3.1.4"), Some("3.1.5")),
                change("pytz", Some("1"), None),
            ]
        );
    }
}
