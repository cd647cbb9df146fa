//! Input rules checked in the browser and again on the server.

/// Lower-cases a Host and drops its port; `None` when it is not a valid DNS name.
pub fn normalize_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    // IPv6 literals are never bound; refuse them rather than mis-split on ':'.
    if raw.starts_with('[') {
        return None;
    }
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => raw,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host.split('.').all(label_ok).then_some(host)
}

/// A user name: 3–40 characters, letters, digits, `.`, `_`, `-`.
pub fn validate_username(name: &str) -> Result<String, String> {
    let name = name.trim();
    if !(3..=40).contains(&name.chars().count()) {
        return Err("A user name needs 3 to 40 characters.".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("A user name may only use letters, digits, '.', '_' and '-'.".into());
    }
    Ok(name.to_string())
}

/// A password: at least 12 characters with letters and digits, not containing the user name.
pub fn validate_password(password: &str, username: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("The password is too weak: use at least 12 characters.".into());
    }
    if password.chars().count() > 256 {
        return Err("The password is too long: use at most 256 characters.".into());
    }
    let has_letter = password.chars().any(char::is_alphabetic);
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    if !has_letter || !has_digit {
        return Err("The password is too weak: mix letters and digits.".into());
    }
    if !username.is_empty()
        && password
            .to_lowercase()
            .contains(&username.trim().to_lowercase())
    {
        return Err("The password is too weak: it must not contain the user name.".into());
    }
    Ok(())
}

/// A tenant's display name: 2–80 characters, not blank.
pub fn validate_tenant_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if !(2..=80).contains(&name.chars().count()) {
        return Err("A tenant name needs 2 to 80 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("A tenant name may not contain control characters.".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lowercased_and_lose_their_port() {
        assert_eq!(
            normalize_host("ACME.localhost:3000").as_deref(),
            Some("acme.localhost")
        );
        assert_eq!(normalize_host("localhost").as_deref(), Some("localhost"));
        assert_eq!(
            normalize_host("acme.localhost.").as_deref(),
            Some("acme.localhost")
        );
    }

    #[test]
    fn bad_hosts_are_refused() {
        for bad in [
            "",
            ":80",
            "a..b",
            "-a.localhost",
            "a_b.localhost",
            "acme.localhost:x",
            "[::1]:3000",
            "a b",
            "evil.com/path",
        ] {
            assert_eq!(normalize_host(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(validate_password("short1", "bob").is_err());
        assert!(validate_password("onlyletterslong", "bob").is_err());
        assert!(validate_password("123456789012345", "bob").is_err());
        assert!(validate_password("alice-password-1", "alice").is_err());
        assert!(validate_password("correct-horse-42", "alice").is_ok());
    }

    #[test]
    fn usernames_are_checked() {
        assert!(validate_username("ab").is_err());
        assert!(validate_username("has space").is_err());
        assert_eq!(validate_username(" alice ").unwrap(), "alice");
    }

    #[test]
    fn tenant_names_are_checked() {
        assert!(validate_tenant_name(" ").is_err());
        assert_eq!(validate_tenant_name(" Acme ").unwrap(), "Acme");
    }
}
