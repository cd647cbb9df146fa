//! The saved login: server, host and personal access token, in `config.toml` of the user's
//! config folder (`$EXECGOV_CONFIG_DIR`, else `$XDG_CONFIG_HOME/execgov`, else
//! `~/.config/execgov`). The folder is 0700 and the file 0600: the token is a password.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{code, io_failure, Failure, Outcome};

pub const FILE_NAME: &str = "config.toml";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// e.g. `http://127.0.0.1:3000`
    pub server: String,
    /// The Host sent with every request (the tenant's address); none: the server URL's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `egv_…`
    pub token: String,
    /// The token's id, to revoke it on `logout` (unknown for a token given to `login --token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The config folder.
pub fn dir() -> Outcome<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("EXECGOV_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // The XDG spec ignores a relative XDG_CONFIG_HOME.
    if let Some(xdg) = set("XDG_CONFIG_HOME").map(PathBuf::from) {
        if xdg.is_absolute() {
            return Ok(xdg.join("execgov"));
        }
    }
    match set("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("execgov")),
        None => Err(Failure::failed(
            "cannot tell where to keep the configuration: set HOME or EXECGOV_CONFIG_DIR",
        )),
    }
}

pub fn path() -> Outcome<PathBuf> {
    Ok(dir()?.join(FILE_NAME))
}

/// The saved login, if any.
pub fn load() -> Outcome<Option<Config>> {
    let path = path()?;
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_failure(code::FAILED, path.display(), e)),
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        Failure::failed(format!(
            "{} is damaged ({}); log in again to rewrite it",
            path.display(),
            e.message().trim()
        ))
    })
}

/// Saves the login: the folder 0700, the file 0600, replaced in one rename.
pub fn save(config: &Config) -> Outcome<PathBuf> {
    let text = toml::to_string(config).map_err(|e| Failure::failed(format!("config: {e}")))?;
    write_private(
        FILE_NAME,
        &format!(
            "# execgov-cli login: keep this file private (it holds a personal access token).\n{text}"
        ),
    )
}

/// Writes `text` as `name` in the config folder: the folder 0700, the file 0600 (it holds a
/// secret), replaced in one rename so a reader never sees half of it.
pub fn write_private(name: &str, text: &str) -> Outcome<PathBuf> {
    let dir = dir()?;
    fs::create_dir_all(&dir).map_err(|e| io_failure(code::FAILED, dir.display(), e))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| io_failure(code::FAILED, dir.display(), e))?;
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = fs::remove_file(&temporary);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, &path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&temporary);
        io_failure(code::FAILED, path.display(), e)
    })?;
    Ok(path)
}

/// Forgets the saved login; true if there was one.
pub fn remove() -> Outcome<bool> {
    let path = path()?;
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_failure(code::FAILED, path.display(), e)),
    }
}
