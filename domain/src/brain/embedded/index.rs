//! The index: BM25F over each candidate's fields.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum FieldKind {
    Name,
    Description,
    Examples,
    Output,
    Inputs,
    Readme,
}

impl FieldKind {
    /// In this order, the README last (see `Index::score`).
    const ALL: [FieldKind; 6] = [
        FieldKind::Name,
        FieldKind::Description,
        FieldKind::Examples,
        FieldKind::Output,
        FieldKind::Inputs,
        FieldKind::Readme,
    ];

    /// How much a match in this field counts, and how much its length dampens it (BM25's b).
    /// The name and the example requests are what people ask in; the README is long and
    /// mentions much in passing.
    pub(super) fn weight_and_b(self) -> (f64, f64) {
        match self {
            FieldKind::Name => (3.0, 0.3),
            FieldKind::Examples => (2.0, 0.5),
            FieldKind::Description => (1.5, 0.6),
            FieldKind::Output => (0.8, 0.6),
            FieldKind::Inputs => (0.8, 0.6),
            FieldKind::Readme => (0.4, 0.75),
        }
    }

    pub(super) fn phrase(self) -> &'static str {
        match self {
            FieldKind::Name => "the name",
            FieldKind::Description => "the description",
            FieldKind::Examples => "an example request",
            FieldKind::Output => "the output",
            FieldKind::Inputs => "the inputs",
            FieldKind::Readme => "the README",
        }
    }

    pub(super) fn text(self, c: &Candidate) -> String {
        match self {
            FieldKind::Name => format!("{} {}", c.name, c.slug.replace(['-', '_'], " ")),
            FieldKind::Description => c.description.clone(),
            FieldKind::Examples => c.examples.join("\n"),
            FieldKind::Output => c.output.clone(),
            FieldKind::Inputs => c
                .inputs
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {} {}",
                        f.label,
                        f.name.replace('_', " "),
                        f.description.as_deref().unwrap_or(""),
                        f.choices.join(" ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            FieldKind::Readme => c.readme.clone(),
        }
    }
}

pub(super) const K1: f64 = 1.2;

pub(super) struct Doc {
    /// Per field: term → occurrences.
    pub(super) tf: Vec<HashMap<String, f64>>,
    pub(super) len: Vec<f64>,
}

pub(super) struct Index {
    pub(super) docs: Vec<Doc>,
    pub(super) avg_len: Vec<f64>,
    /// How many candidates hold each term.
    pub(super) df: HashMap<String, usize>,
    pub(super) vocabulary: BTreeSet<String>,
}

/// One candidate's score and what earned it.
pub(super) struct Hit {
    pub(super) score: f64,
    /// Request word → its share of the score.
    pub(super) by_word: BTreeMap<String, f64>,
    pub(super) by_field: BTreeMap<FieldKind, f64>,
}

impl Index {
    pub(super) fn build(candidates: &[Candidate]) -> Index {
        let mut docs = Vec::with_capacity(candidates.len());
        let mut df: HashMap<String, usize> = HashMap::new();
        for c in candidates {
            let mut tf = Vec::new();
            let mut len = Vec::new();
            let mut seen = BTreeSet::new();
            for field in FieldKind::ALL {
                let mut counts: HashMap<String, f64> = HashMap::new();
                let terms = tokenize(&field.text(c));
                for t in &terms {
                    *counts.entry(t.text.clone()).or_default() += 1.0;
                    seen.insert(t.text.clone());
                }
                len.push(terms.len() as f64);
                tf.push(counts);
            }
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
            docs.push(Doc { tf, len });
        }
        let n = docs.len().max(1) as f64;
        let avg_len = (0..FieldKind::ALL.len())
            .map(|f| (docs.iter().map(|d| d.len[f]).sum::<f64>() / n).max(1.0))
            .collect();
        let vocabulary = df.keys().cloned().collect();
        Index {
            docs,
            avg_len,
            df,
            vocabulary,
        }
    }

    pub(super) fn idf(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = self.df.get(term).copied().unwrap_or(0) as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// BM25F: per term, the field-weighted, length-normalised frequency saturates once, so a
    /// word repeated across fields helps without swamping the other words of the request.
    /// `None` when the candidate shares nothing meaningful with the request.
    pub(super) fn score(&self, doc: usize, query: &Query) -> Option<Hit> {
        let d = &self.docs[doc];
        let lex = &*LEXICON;
        let mut hit = Hit {
            score: 0.0,
            by_word: BTreeMap::new(),
            by_field: BTreeMap::new(),
        };
        let mut meaningful = false;
        for (text, qt) in &query.terms {
            let mut per_field = [0.0; 6];
            for (f, field) in FieldKind::ALL.iter().enumerate() {
                let Some(&tf) = d.tf[f].get(text) else {
                    continue;
                };
                let (w, b) = field.weight_and_b();
                per_field[f] = w * tf / (1.0 - b + b * d.len[f] / self.avg_len[f]);
            }
            let tf: f64 = per_field.iter().sum();
            if tf == 0.0 {
                continue;
            }
            let s = qt.weight * self.idf(text) * tf * (K1 + 1.0) / (K1 + tf);
            hit.score += s;
            *hit.by_word.entry(qt.surface.clone()).or_default() += s;
            for (f, field) in FieldKind::ALL.iter().enumerate() {
                *hit.by_field.entry(*field).or_default() += s * per_field[f] / tf;
            }
            // A lone CJK character, an attachment's name, a word everything mentions, a
            // far-fetched inference, or a word the README merely mentions in passing is not
            // enough on its own to call it a match.
            let beyond_readme = per_field[..5].iter().any(|&x| x > 0.0);
            if qt.weight >= W_SYNONYM && !lex.generic.contains(text) && beyond_readme {
                meaningful = true;
            }
        }
        (meaningful && hit.score > 0.0).then_some(hit)
    }
}

impl Hit {
    /// "Matches “csv”, “summary” in the name and an example request."
    pub(super) fn why(&self) -> String {
        let mut ranked: Vec<(&String, &f64)> = self.by_word.iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
        // The strongest words, leaving out a CJK gram inside one already named (作日 in 工作日)
        // and lone CJK characters when anything else matched.
        let mut words: Vec<&str> = Vec::new();
        let lone = |w: &str| w.chars().count() == 1 && w.chars().all(is_cjk);
        let any_other = ranked.iter().any(|(w, _)| !lone(w));
        for (w, _) in &ranked {
            let overlaps = words
                .iter()
                .any(|k| k.contains(w.as_str()) || w.contains(k));
            if words.len() < 4 && !overlaps && !(any_other && lone(w)) {
                words.push(w);
            }
        }
        let words: Vec<String> = words
            .iter()
            .map(|w| format!("\u{201c}{w}\u{201d}"))
            .collect();
        let mut fields: Vec<(FieldKind, f64)> = self
            .by_field
            .iter()
            .filter(|(_, s)| **s >= 0.15 * self.score)
            .map(|(f, s)| (*f, *s))
            .collect();
        fields.sort_by(|a, b| b.1.total_cmp(&a.1));
        fields.truncate(3);
        fields.sort_by_key(|(f, _)| *f);
        let fields: Vec<&str> = fields.iter().map(|(f, _)| f.phrase()).collect();
        format!("Matches {} in {}.", join_words(&words), join_words(&fields))
    }
}

/// "a", "a and b", "a, b and c".
pub(super) fn join_words<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}
