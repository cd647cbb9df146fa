//! Tenant secrets as people see them: a name and the last characters of the value, never the
//! value itself; and the rules a name and a value must meet (checked by the server; the page
//! shows the same rules as hints).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored secret as listed: the value is never sent back, only its last characters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    /// The environment variable a skill's run receives it as, e.g. `CRM_TOKEN`.
    pub name: String,
    /// The value's last 4 characters, to tell values apart.
    pub last4: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Longest secret name.
pub const MAX_NAME: usize = 64;
/// A value's length in characters, at least and at most (an environment variable's value; the
/// shortest is long enough that masking it in logs does not blank ordinary words).
pub const MIN_VALUE: usize = 8;
pub const MAX_VALUE: usize = 4096;
/// How many characters of a value are shown after entry.
pub const SHOWN_CHARS: usize = 4;

/// Names the platform or the interpreters give meaning to: a secret may not replace them.
const RESERVED_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "SHELL",
    "PWD",
    "OLDPWD",
    "IFS",
    "ENV",
    "CDPATH",
    "TMPDIR",
    "TERM",
    "USER",
    "LOGNAME",
    "SHLVL",
    "TZ",
    "HOSTNAME",
    "VIRTUAL_ENV",
    "PS4",
    // The egress guard's proxy settings.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];
const RESERVED_PREFIXES: &[&str] = &[
    "EXECGOV_", "LD_", "LC_", "PYTHON", "BASH_", "PIP_", "UV_", "GLIBC_", "MALLOC_",
];

/// Why `name` cannot name a secret, or `None` when it can: an upper-case environment variable
/// name (`A-Z`, `0-9`, `_`, starting with a letter, at most 64 characters) that the platform,
/// the shell or Python does not use itself.
pub fn name_problem(name: &str) -> Option<String> {
    let shaped = (1..=MAX_NAME).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !shaped {
        return Some(format!(
            "{name:?} is not a secret name: use 1 to {MAX_NAME} upper-case letters, digits and \
             '_', starting with a letter, e.g. CRM_TOKEN"
        ));
    }
    if RESERVED_NAMES.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some(format!(
            "{name} is used by the platform, the shell or Python itself; choose another name"
        ));
    }
    None
}

/// Why `value` cannot be a secret's value, or `None` when it can: 8 to 4096 characters on one
/// line, without control characters (a value split over lines could not be masked line by line
/// in a run's log), not starting or ending with white space (kept as it is, never trimmed).
/// Never quotes the value.
pub fn value_problem(value: &str) -> Option<String> {
    let chars = value.chars().count();
    if !(MIN_VALUE..=MAX_VALUE).contains(&chars) {
        return Some(format!(
            "The value needs {MIN_VALUE} to {MAX_VALUE} characters (it has {chars})."
        ));
    }
    if value.chars().any(char::is_control) {
        return Some(
            "The value must be one line without control characters; encode a multi-line key \
             (e.g. as base64) first."
                .into(),
        );
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Some("The value starts or ends with white space: remove it.".into());
    }
    None
}

/// [`name_problem`] as one regular expression (ECMA-262, as OpenAPI documents take it), for
/// the REST API's description of a name.
pub fn name_pattern() -> String {
    format!(
        "^(?!({})|({})$)[A-Z][A-Z0-9_]{{0,{}}}$",
        RESERVED_PREFIXES.join("|"),
        RESERVED_NAMES.join("|"),
        MAX_NAME - 1
    )
}

/// The last characters shown of a value.
pub fn last_chars(value: &str) -> String {
    let count = value.chars().count();
    value
        .chars()
        .skip(count.saturating_sub(SHOWN_CHARS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_upper_case_environment_names_the_platform_does_not_use() {
        for ok in ["CRM_TOKEN", "A", "ERP_KEY_2", &"X".repeat(64)] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "crm_token",
            "2FA_KEY",
            "_TOKEN",
            "CRM-TOKEN",
            "CRM TOKEN",
            "ÉTÉ",
            &"X".repeat(65),
        ] {
            assert!(
                name_problem(bad).is_some_and(|p| p.contains("not a secret name")),
                "{bad}"
            );
        }
        for reserved in [
            "PATH",
            "HOME",
            "LD_PRELOAD",
            "PYTHONPATH",
            "EXECGOV_INPUTS",
            "HTTPS_PROXY",
        ] {
            assert!(
                name_problem(reserved).is_some_and(|p| p.contains("used by the platform")),
                "{reserved}"
            );
        }
    }

    #[test]
    fn values_are_one_line_of_8_to_4096_characters() {
        for ok in [
            "s3cret-value",
            "密码密码密码密码",
            "with inner spaces",
            &"x".repeat(4096),
        ] {
            assert_eq!(value_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("short", "8 to 4096"),
            (&"x".repeat(4097), "8 to 4096"),
            ("line one\nline two", "one line"),
            ("nul\0inside-value", "one line"),
            ("c1\u{85}control-value", "one line"),
            (" s3cret-value", "white space"),
            ("s3cret-value\u{3000}", "white space"),
        ] {
            let problem = value_problem(bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad:?}: {problem}");
            assert!(!problem.contains(bad), "the value is never quoted");
        }
    }

    #[test]
    fn only_the_last_four_characters_are_shown() {
        assert_eq!(last_chars("tok-abcdef1234"), "1234");
        assert_eq!(last_chars("密码密码密码密码"), "密码密码");
    }
}
