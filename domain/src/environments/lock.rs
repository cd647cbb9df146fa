//! A lock: the resolver's `requirements.txt` output with exact versions and hashes
//! (`name==version \` then `--hash=sha256:…` lines), as stored with a submission and its skill
//! version. Its SHA-256 names the environment built from it.
//!
//! When builds are allowed (`EXECGOV_PYTHON_ALLOW_BUILDS`), a package published only as source
//! is pinned the same way (the hashes are its sdist's) and named once more at the end by a
//! comment line, `# built from source: name==version`: a comment, so the text stays a
//! requirements file, and part of the hash, so a lock built from source never shares an
//! environment with one that is not.

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

/// What starts the line naming a package built from source.
pub const FROM_SOURCE: &str = "# built from source: ";

/// The packages a lock pins, in its order (sorted by the resolver).
pub fn packages(text: &str) -> Vec<LockedPackage> {
    let sources = from_source(text);
    pins(text)
        .into_iter()
        .map(|pin| LockedPackage {
            from_source: sources.contains(&(pin.name.clone(), pin.version.clone())),
            name: pin.name,
            version: pin.version,
        })
        .collect()
}

/// One pin of a lock: its first line's name and version, the hashes its block lists, and the
/// block's lines.
struct Pin<'a> {
    name: String,
    version: String,
    hashes: Vec<String>,
    lines: Vec<&'a str>,
}

fn pins(text: &str) -> Vec<Pin<'_>> {
    let mut out: Vec<Pin> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(pin) = out.last_mut() {
                pin.lines.push(line);
                pin.hashes.extend(hashes_in(line));
            }
            continue;
        }
        if line.starts_with(['#', '-']) || line.trim().is_empty() {
            continue;
        }
        let pin = line.trim_end_matches('\\').trim();
        let pin = pin.split(';').next().unwrap_or(pin).trim();
        let Some((name, version)) = pin.split_once("==") else {
            continue;
        };
        out.push(Pin {
            name: super::requirements::normalize(name.trim()),
            version: version.trim().to_string(),
            hashes: hashes_in(line).collect(),
            lines: vec![line],
        });
    }
    out
}

fn hashes_in(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split_whitespace()
        .filter_map(|w| w.strip_prefix("--hash=sha256:"))
        .map(str::to_string)
}

/// The packages a lock builds from source, as (name, version).
pub fn from_source(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(FROM_SOURCE))
        .filter_map(|pin| {
            let (name, version) = pin.trim().split_once("==")?;
            Some((
                super::requirements::normalize(name.trim()),
                version.trim().to_string(),
            ))
        })
        .collect()
}

/// The SHA-256 hashes a lock accepts for package `name` (normalised) at `version`.
pub fn hashes_of(text: &str, name: &str, version: &str) -> Vec<String> {
    pins(text)
        .into_iter()
        .find(|p| p.name == name && p.version == version)
        .map(|p| p.hashes)
        .unwrap_or_default()
}

/// The lock without the packages it builds from source: what the installer fetches as wheels.
pub fn wheels_only(text: &str) -> String {
    let sources = from_source(text);
    pins(text)
        .into_iter()
        .filter(|p| !sources.contains(&(p.name.clone(), p.version.clone())))
        .flat_map(|p| p.lines)
        .map(|l| format!("{l}\n"))
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
            from_source: false,
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
    fn a_lock_names_what_it_builds_from_source() {
        let text =
            format!("{LOCK}tinypkg==1.0 \\\n    --hash=sha256:ee\n{FROM_SOURCE}tinypkg==1.0\n");
        let listed = packages(&text);
        assert_eq!(listed.len(), 4);
        assert!(listed[3].from_source && listed[3].name == "tinypkg");
        assert!(listed[..3].iter().all(|p| !p.from_source));
        assert_eq!(
            from_source(&text),
            [("tinypkg".to_string(), "1.0".to_string())]
        );
        assert_eq!(hashes_of(&text, "tinypkg", "1.0"), ["ee"]);
        assert_eq!(hashes_of(&text, "openpyxl", "3.1.5"), ["bb", "cc"]);
        assert!(hashes_of(&text, "tinypkg", "2.0").is_empty());
        assert_eq!(wheels_only(&text), LOCK);
        assert_eq!(wheels_only(LOCK), LOCK);
        assert!(from_source(LOCK).is_empty());
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
