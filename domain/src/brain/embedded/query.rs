//! The query.

use super::*;

#[derive(Clone, Debug)]
pub(super) struct QueryTerm {
    pub(super) weight: f64,
    /// The request's words this term stands for, for `why`.
    pub(super) surface: String,
}

pub(super) struct Query {
    pub(super) terms: BTreeMap<String, QueryTerm>,
}

impl Query {
    pub(super) fn add(&mut self, text: &str, weight: f64, surface: &str) {
        let entry = self.terms.entry(text.to_string()).or_insert(QueryTerm {
            weight: 0.0,
            surface: surface.to_string(),
        });
        if weight > entry.weight {
            entry.weight = weight;
            entry.surface = surface.to_string();
        }
    }

    pub(super) fn build(
        request: &str,
        attachments: &[Attachment],
        vocabulary: &BTreeSet<String>,
    ) -> Query {
        let lex = &*LEXICON;
        let mut q = Query {
            terms: BTreeMap::new(),
        };
        // The request's own terms, and for unknown words a split or a typo fix.
        for term in tokenize(request) {
            match term.kind {
                TermKind::CjkUnigram => q.add(&term.text, W_CJK_UNIGRAM, &term.surface),
                TermKind::CjkBigram => q.add(&term.text, W_WORD, &term.surface),
                TermKind::Word => {
                    q.add(&term.text, W_WORD, &term.surface);
                    if vocabulary.contains(&term.text) {
                        continue;
                    }
                    let parts = split_compound(&term.surface, vocabulary);
                    if !parts.is_empty() {
                        for p in parts {
                            q.add(&p, W_SPLIT, &term.surface);
                        }
                    } else {
                        for fix in typo_fixes(&term.text, vocabulary) {
                            q.add(&fix, W_TYPO, &term.surface);
                        }
                    }
                }
            }
        }
        // Phrases: matched on the request with punctuation turned into spaces.
        let flat = flatten_text(request);
        for (key, stems, weight) in &lex.phrases {
            if contains_phrase(&flat, key) {
                for s in stems {
                    q.add(s, *weight, key);
                }
            }
        }
        // Synonyms and related stems of what we have so far, at a further discount.
        let base: Vec<(String, QueryTerm)> = q
            .terms
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (text, term) in &base {
            if let Some(others) = lex.synonyms.get(text) {
                for o in others {
                    q.add(o, term.weight * W_SYNONYM, &term.surface);
                }
            }
            if text.is_ascii() && text.len() >= 5 {
                for v in vocabulary.iter().filter(|v| related(text, v)) {
                    q.add(v, term.weight * W_RELATED, &term.surface);
                }
            }
        }
        // An attached file's name hints at its kind (app.log, orders.json).
        for a in attachments {
            for term in tokenize(&a.file_name) {
                q.add(&term.text, W_ATTACHMENT, &term.surface);
            }
        }
        q
    }
}

/// Lower-cased text with every run of non-word characters made one space, padded with spaces so
/// that a phrase can be looked up as " phrase ".
pub(super) fn flatten_text(text: &str) -> String {
    let mut out = String::from(" ");
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

pub(super) fn contains_phrase(flat: &str, key: &str) -> bool {
    if key.chars().any(is_cjk) {
        flat.contains(key)
    } else {
        flat.contains(&format!(" {key} "))
    }
}

/// "wordfrequency" → word + frequenc, when both halves are known words.
pub(super) fn split_compound(word: &str, vocabulary: &BTreeSet<String>) -> Vec<String> {
    if !word.is_ascii() || word.len() < 6 {
        return Vec::new();
    }
    for cut in 3..=word.len() - 3 {
        let (a, b) = word.split_at(cut);
        let (sa, sb) = (stem(a), stem(b));
        if vocabulary.contains(&sa) && vocabulary.contains(&sb) {
            return vec![sa, sb];
        }
    }
    Vec::new()
}

/// The known stems closest to an unknown one, one edit away (two for long words).
pub(super) fn typo_fixes(unknown: &str, vocabulary: &BTreeSet<String>) -> Vec<String> {
    let len = unknown.chars().count();
    if !unknown.is_ascii() || len < 5 {
        return Vec::new();
    }
    let max = if len >= 8 { 2 } else { 1 };
    let mut best = max + 1;
    let mut fixes = Vec::new();
    for v in vocabulary.iter().filter(|v| v.is_ascii() && v.len() >= 4) {
        let d = edit_distance(unknown, v, max);
        if d < best {
            best = d;
            fixes.clear();
        }
        if d == best && d <= max {
            fixes.push(v.clone());
        }
    }
    fixes
}
