//! Percent-encoding of URL parts (RFC 3986: everything but unreserved characters).

/// `text` fit for any part of a URL: a redirect's query string, a `DATABASE_URL`'s password or
/// socket folder.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
