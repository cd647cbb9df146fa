//! The master key: read from its file (made on first start when none is configured), checked
//! against the check value in `public.master_key`, and the AEAD that seals values under it.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sqlx::PgConnection;

/// The known text the check value seals.
const CHECK_TEXT: &[u8] = b"execgov master key check";
/// Bytes of a key; its file holds them as hex digits.
const KEY_BYTES: usize = 32;

/// What a sealed value is bound to: its associated data. A ciphertext opens only for the same
/// binding, so one copied to another tenant, name or purpose does not.
#[derive(Clone, Copy, Debug)]
pub enum Binding<'a> {
    /// The check value in `public.master_key`.
    KeyCheck,
    /// A tenant's named secret.
    TenantSecret { tenant_id: i64, name: &'a str },
}

impl Binding<'_> {
    fn associated_data(&self) -> Vec<u8> {
        match self {
            Binding::KeyCheck => b"execgov/key-check/v1".to_vec(),
            Binding::TenantSecret { tenant_id, name } => {
                format!("execgov/tenant-secret/v1\n{tenant_id}\n{name}").into_bytes()
            }
        }
    }
}

/// A value sealed under the master key.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The platform's master key, as the check value in the database knows it (`generation`).
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    /// The `public.master_key` generation this key belongs to.
    pub generation: i32,
}

/// Never the key itself.
impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(generation {})", self.generation)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; KEY_BYTES], generation: i32) -> MasterKey {
        MasterKey {
            cipher: XChaCha20Poly1305::new(bytes.into()),
            generation,
        }
    }

    /// Seals `plain` for `binding` with a fresh random nonce.
    pub fn seal(&self, binding: Binding<'_>, plain: &[u8]) -> Sealed {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = binding.associated_data();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length we store");
        Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens a value sealed for `binding`; `None` when this key, binding or ciphertext does not
    /// match (tampered, copied elsewhere, or sealed under another key).
    pub fn open(&self, binding: Binding<'_>, sealed: &Sealed) -> Option<Vec<u8>> {
        if sealed.nonce.len() != 24 {
            return None;
        }
        let aad = binding.associated_data();
        self.cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }

    fn check_value(&self) -> Sealed {
        self.seal(Binding::KeyCheck, CHECK_TEXT)
    }

    fn opens_check(&self, check: &Sealed) -> bool {
        self.open(Binding::KeyCheck, check).as_deref() == Some(CHECK_TEXT)
    }
}

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub struct KeySource {
    pub path: PathBuf,
    /// Made (0600) on first start when missing: the default file in the data directory. A file
    /// the operator named must exist.
    pub create_if_missing: bool,
}

impl KeySource {
    /// `EXECGOV_MASTER_KEY_FILE` if set, else `master.key` in the data directory.
    pub fn new(configured: Option<PathBuf>, data_dir: &Path) -> KeySource {
        match configured {
            Some(path) => KeySource {
                path,
                create_if_missing: false,
            },
            None => KeySource {
                path: data_dir.join("master.key"),
                create_if_missing: true,
            },
        }
    }
}

/// Reads a key file: 64 hex digits (white space around them ignored).
pub fn read_key_file(path: &Path) -> anyhow::Result<[u8; KEY_BYTES]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    let mut key = [0u8; KEY_BYTES];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        anyhow!(
            "{} is not a master key file: it must hold 64 hex digits (32 random bytes)",
            path.display()
        )
    })?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "the master key file is readable by other users: make it 0600"
        );
    }
    Ok(key)
}

/// Writes a new random key to `path` (which must not exist yet), readable by its owner only.
pub fn create_key_file(path: &Path) -> anyhow::Result<[u8; KEY_BYTES]> {
    let key: [u8; KEY_BYTES] = rand::random();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the master key file {}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// The check row, locked for the rest of the transaction (`FOR UPDATE`).
async fn check_row(conn: &mut PgConnection) -> anyhow::Result<Option<(i32, Sealed)>> {
    let row: Option<(i32, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT generation, check_nonce, check_ciphertext FROM public.master_key \
         WHERE id = 1 FOR UPDATE",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(generation, nonce, ciphertext)| (generation, Sealed { nonce, ciphertext })))
}

/// The master key the server runs with: the key file's, checked against the database's check
/// value; on the first start (no check value yet) the check value is written, and the default
/// key file made if it is missing. A key that does not open the check value is refused: the
/// server must not start and serve secrets it cannot open.
pub async fn unlock(pool: &sqlx::PgPool, source: &KeySource) -> anyhow::Result<MasterKey> {
    let mut tx = pool.begin().await?;
    let row = check_row(&mut tx).await?;
    let exists = std::fs::exists(&source.path)?;
    let bytes = match (exists, &row, source.create_if_missing) {
        (true, _, _) => read_key_file(&source.path)?,
        (false, None, true) => {
            let key = create_key_file(&source.path)?;
            tracing::info!(file = %source.path.display(), "made a new master key for secrets");
            key
        }
        (false, Some(_), _) => bail!(
            "there is no master key file at {}, but this database's secrets are sealed under a \
             master key: restore that key file, or point EXECGOV_MASTER_KEY_FILE at it",
            source.path.display()
        ),
        (false, None, false) => bail!(
            "EXECGOV_MASTER_KEY_FILE={}: no such file (write 64 hex digits of a random key \
             into it, e.g. `openssl rand -hex 32`, or leave the variable unset to have one made \
             in the data directory)",
            source.path.display()
        ),
    };
    let key = match row {
        Some((generation, check)) => {
            let key = MasterKey::from_bytes(&bytes, generation);
            if !key.opens_check(&check) {
                bail!(
                    "the master key in {} is not the one this database's secrets are sealed \
                     under (its check value does not open): refusing to start. Set \
                     EXECGOV_MASTER_KEY_FILE to the right key file (after a rotation: the new \
                     one)",
                    source.path.display()
                );
            }
            key
        }
        None => {
            let key = MasterKey::from_bytes(&bytes, 1);
            let check = key.check_value();
            sqlx::query(
                "INSERT INTO public.master_key (id, generation, check_nonce, check_ciphertext) \
                 VALUES (1, 1, $1, $2)",
            )
            .bind(&check.nonce)
            .bind(&check.ciphertext)
            .execute(&mut *tx)
            .await?;
            key
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// Opens the current key from `source` for a rotation (it must match the check value; nothing
/// is made), and the new one from `new_key_file` (made, 0600, when it does not exist yet).
/// Returns (current, new), the new one at the next generation.
pub(super) async fn keys_for_rotation(
    conn: &mut PgConnection,
    source: &KeySource,
    new_key_file: &Path,
) -> anyhow::Result<(MasterKey, MasterKey)> {
    let Some((generation, check)) = check_row(conn).await? else {
        bail!("this database has no master key yet: start the server once first");
    };
    let current = MasterKey::from_bytes(&read_key_file(&source.path)?, generation);
    if !current.opens_check(&check) {
        bail!(
            "the master key in {} is not the one this database's secrets are sealed under",
            source.path.display()
        );
    }
    if std::fs::exists(new_key_file)?
        && std::fs::canonicalize(new_key_file)? == std::fs::canonicalize(&source.path)?
    {
        bail!("the new key file is the current one: name a new file");
    }
    let new_bytes = if std::fs::exists(new_key_file)? {
        read_key_file(new_key_file)?
    } else {
        create_key_file(new_key_file)?
    };
    let new = MasterKey::from_bytes(&new_bytes, generation + 1);
    if new.opens_check(&check) {
        bail!("the new key is the current one: rotation needs a different key");
    }
    Ok((current, new))
}

/// Replaces the check value with one sealed under `new` at its generation.
pub(super) async fn store_check(conn: &mut PgConnection, new: &MasterKey) -> anyhow::Result<()> {
    let check = new.check_value();
    sqlx::query(
        "UPDATE public.master_key SET generation = $1, check_nonce = $2, \
         check_ciphertext = $3, rotated_at = now() WHERE id = 1",
    )
    .bind(new.generation)
    .bind(&check.nonce)
    .bind(&check.ciphertext)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
pub(super) fn test_key(byte: u8, generation: i32) -> MasterKey {
    MasterKey::from_bytes(&[byte; KEY_BYTES], generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_binding() {
        let key = test_key(7, 1);
        let acme = Binding::TenantSecret {
            tenant_id: 1003,
            name: "CRM_TOKEN",
        };
        let sealed = key.seal(acme, b"tok-abcdef1234");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"abcdef"));
        assert_eq!(
            key.open(acme, &sealed).as_deref(),
            Some(&b"tok-abcdef1234"[..])
        );
        // Another tenant, another name, another purpose, another key: nothing.
        let globex = Binding::TenantSecret {
            tenant_id: 1004,
            name: "CRM_TOKEN",
        };
        let renamed = Binding::TenantSecret {
            tenant_id: 1003,
            name: "ERP_TOKEN",
        };
        for other in [globex, renamed, Binding::KeyCheck] {
            assert_eq!(key.open(other, &sealed), None, "{other:?}");
        }
        assert_eq!(test_key(8, 1).open(acme, &sealed), None);
        // A flipped bit is refused, not opened to garbage.
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(key.open(acme, &tampered), None);
        // Every value has its own nonce.
        assert_ne!(key.seal(acme, b"tok-abcdef1234").nonce, sealed.nonce);
    }

    #[test]
    fn the_check_value_tells_the_right_key_from_a_wrong_one() {
        let key = test_key(1, 1);
        let check = key.check_value();
        assert!(key.opens_check(&check));
        assert!(!test_key(2, 1).opens_check(&check));
    }

    #[test]
    fn key_files_hold_64_hex_digits_and_new_ones_are_private() {
        let dir = std::env::temp_dir().join(format!("execgov-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        std::fs::remove_file(&path).ok();
        let made = create_key_file(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_key_file(&path).unwrap(), made);
        assert!(create_key_file(&path).is_err(), "never overwritten");
        std::fs::write(&path, "not a key\n").unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
