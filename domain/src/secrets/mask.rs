//! Masking a run's secrets out of what is stored of it: every occurrence of a value in its log
//! lines, result and error becomes `***`.

use std::borrow::Cow;

use engine::{LogLine, Stream};

/// What replaces a secret's value.
pub const MASK: &str = "***";

/// The texts to mask: each value as it is and as it appears inside a JSON string (a result
/// holding a value with a quote or backslash shows it escaped; Python's `json.dump` also
/// escapes every non-ASCII character as `\uXXXX`).
#[derive(Clone, Default)]
pub struct Masker {
    needles: Vec<String>,
}

/// Never the values.
impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker({} texts)", self.needles.len())
    }
}

impl Masker {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut needles = Vec::new();
        for value in values.into_iter().filter(|v| !v.is_empty()) {
            needles.push(value.to_string());
            let quoted = serde_json::to_string(value).unwrap_or_default();
            let escaped = &quoted[1..quoted.len() - 1];
            let ascii = ascii_escaped(escaped);
            for form in [escaped, ascii.as_str()] {
                if !needles.iter().any(|n| n == form) {
                    needles.push(form.to_string());
                }
            }
        }
        Masker { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Byte ranges of `text` that are some value, overlapping ones merged, in order.
    fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let mut found: Vec<(usize, usize)> = Vec::new();
        for needle in &self.needles {
            let mut from = 0;
            while let Some(at) = text[from..].find(needle.as_str()) {
                let start = from + at;
                found.push((start, start + needle.len()));
                // Overlapping occurrences too ("aaa" in "aaaa"): go on one character later.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// `text` with every value replaced by `***`.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let ranges = self.ranges(text);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(render(text, &ranges, 0, text.len()))
    }

    /// Two consecutive pieces of one line (a long line the runner split), masked as the whole
    /// they make: a value cut in two by the split is masked too, its `***` ending the first
    /// piece.
    pub fn mask_pair(&self, first: &str, second: &str) -> (String, String) {
        let joined = format!("{first}{second}");
        let ranges = self.ranges(&joined);
        let cut = ranges
            .iter()
            .find(|(start, end)| *start < first.len() && first.len() < *end)
            .map_or(first.len(), |(_, end)| *end);
        (
            render(&joined, &ranges, 0, cut),
            render(&joined, &ranges, cut, joined.len()),
        )
    }
}

/// JSON text with every non-ASCII character written as `\uXXXX` (UTF-16, lower-case hex), as
/// Python's `json.dumps` writes it by default.
fn ascii_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `text[from..to]` with the `ranges` (which never cross `from` or `to`) replaced by `***`.
fn render(text: &str, ranges: &[(usize, usize)], from: usize, to: usize) -> String {
    let mut out = String::with_capacity(to - from);
    let mut at = from;
    for &(start, end) in ranges.iter().filter(|(s, e)| *s >= from && *e <= to) {
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..to]);
    out
}

/// Masks a run's log lines as they stream. Each line is masked on its own, except a line as
/// long as the runner's split length (`engine::output::MAX_LINE`): it may be the first piece of
/// a longer line, so it is held until the next line of its stream comes and masked together
/// with it. A held line therefore reaches the log one line later (and may come after a line of
/// the other stream).
pub struct LogMasker {
    masker: Masker,
    held: [Option<String>; 2],
}

impl LogMasker {
    pub fn new(masker: Masker) -> LogMasker {
        LogMasker {
            masker,
            held: [None, None],
        }
    }

    fn slot(stream: Stream) -> usize {
        match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }

    /// The lines ready to store once `line` has come (none, one or two).
    pub fn push(&mut self, line: LogLine) -> Vec<LogLine> {
        if self.masker.is_empty() {
            return vec![line];
        }
        let slot = Self::slot(line.stream);
        let mut ready = Vec::new();
        let current = match self.held[slot].take() {
            Some(held) => {
                let (first, second) = self.masker.mask_pair(&held, &line.line);
                ready.push(LogLine {
                    stream: line.stream,
                    line: first,
                });
                second
            }
            None => self.masker.mask(&line.line).into_owned(),
        };
        // The runner splits at MAX_LINE bytes, moved back by up to 3 to a character's start.
        if line.line.len() + 3 >= engine::output::MAX_LINE {
            self.held[slot] = Some(current);
        } else {
            ready.push(LogLine {
                stream: line.stream,
                line: current,
            });
        }
        ready
    }

    /// The lines still held, once the run's output has ended.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let mut ready = Vec::new();
        for (slot, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
            if let Some(line) = self.held[slot].take() {
                ready.push(LogLine { stream, line });
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok-abcdef1234";

    #[test]
    fn every_occurrence_is_masked() {
        let m = Masker::new([TOKEN, "second-secret"]);
        assert_eq!(
            m.mask(&format!(
                "token={TOKEN}; again {TOKEN}{TOKEN}. second-secret!"
            )),
            "token=***; again ***. ***!"
        );
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
        // Overlapping values and overlapping occurrences leave no part of either.
        let m = Masker::new(["abcdefgh", "efghijkl"]);
        assert_eq!(m.mask("xxabcdefghijklxx"), "xx***xx");
        let m = Masker::new(["aaaaaaaa"]);
        assert_eq!(m.mask("aaaaaaaaaa"), "***");
    }

    #[test]
    fn a_value_escaped_inside_json_is_masked_too() {
        let value = r#"pa"ss\word-123"#;
        let m = Masker::new([value]);
        let result = serde_json::json!({ "token": value, "other": 1 }).to_string();
        let masked = m.mask(&result);
        assert!(!masked.contains("ss\\\\word"), "{masked}");
        let parsed: serde_json::Value = serde_json::from_str(&masked).unwrap();
        assert_eq!(parsed["token"], "***");
        // As Python's json.dump writes a value with non-ASCII characters (𝄞: a surrogate pair).
        let m = Masker::new(["pässwörd-𝄞-1"]);
        assert_eq!(
            m.mask(r#"{"token": "p\u00e4ssw\u00f6rd-\ud834\udd1e-1"}"#),
            r#"{"token": "***"}"#
        );
    }

    #[test]
    fn a_value_split_between_two_pieces_of_a_line_is_masked() {
        let m = Masker::new([TOKEN]);
        let (a, b) = m.mask_pair("prefix tok-abc", "def1234 suffix");
        assert_eq!((a.as_str(), b.as_str()), ("prefix ***", " suffix"));
        let (a, b) = m.mask_pair(&format!("{TOKEN} x"), &format!("y {TOKEN}"));
        assert_eq!((a.as_str(), b.as_str()), ("*** x", "y ***"));
    }

    #[test]
    fn the_log_masker_holds_a_split_line_until_its_next_piece() {
        let max = engine::output::MAX_LINE;
        let mut log = LogMasker::new(Masker::new([TOKEN]));
        let line = |stream, text: &str| LogLine {
            stream,
            line: text.to_string(),
        };
        // An ordinary line passes at once, masked.
        let out = log.push(line(Stream::Stdout, &format!("got {TOKEN}")));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line, "got ***");
        // A piece of the split length is held; the next piece of its stream completes it.
        let first = format!("{}tok-abcd", "x".repeat(max - 8));
        assert_eq!(first.len(), max);
        assert!(log.push(line(Stream::Stdout, &first)).is_empty());
        let other = log.push(line(Stream::Stderr, "meanwhile"));
        assert_eq!(other[0].line, "meanwhile");
        let out = log.push(line(Stream::Stdout, "ef1234 end"));
        let texts: Vec<&str> = out.iter().map(|l| l.line.as_str()).collect();
        assert_eq!(
            texts,
            [format!("{}***", "x".repeat(max - 8)).as_str(), " end"]
        );
        // Held at the end of the output: handed over by finish.
        assert!(log.push(line(Stream::Stderr, &"y".repeat(max))).is_empty());
        let rest = log.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].stream, Stream::Stderr);
    }
}
