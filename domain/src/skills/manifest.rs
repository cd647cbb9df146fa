//! The script folder's manifest, `skill.toml`.
