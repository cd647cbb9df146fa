//! Text analysis.

use super::*;

/// What a term is made of; CJK unigrams are weak evidence on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    Word,
    CjkUnigram,
    CjkBigram,
}

/// One analysed term: a stemmed word or a CJK character gram, with the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub surface: String,
    pub kind: TermKind,
}

/// Han ideographs, kana and Hangul: scripts written without spaces between words (as far as
/// search is concerned; Korean has spaces but its syllable blocks still gain from bigrams).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // Extensions B and later, compatibility supplement
}

/// English words that say nothing about which skill is meant.
pub(super) const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "could", "did", "do", "does", "doing", "done", "each", "for", "from", "get",
    "give", "got", "had", "has", "have", "he", "her", "here", "hi", "his", "how", "i", "id", "if",
    "im", "in", "into", "is", "it", "its", "ive", "just", "kindly", "let", "lets", "like", "many",
    "me", "much", "my", "need", "of", "on", "one", "or", "our", "ours", "out", "per", "please",
    "pls", "plz", "only", "she", "should", "so", "some", "such", "than", "thank", "thanks", "that",
    "thats", "the", "their", "them", "then", "there", "these", "they", "thing", "this", "those",
    "to", "too", "us", "very", "via", "want", "was", "we", "were", "what", "whats", "when",
    "where", "which", "while", "who", "why", "will", "with", "would", "you", "your", "yours",
];

/// Chinese characters that carry grammar or politeness, not meaning, when standing alone.
pub(super) const CJK_STOP_CHARS: &str = "的了是在我你他她它们这那个把给帮请一下和与及或吗呢吧啊有要就都也还里上得地着过被让将对为从到么什怎哪几能可以会想需看做该所些每";

/// Chinese character pairs of the same kind ("this one", "help me", "a bit").
pub(super) const CJK_STOP_BIGRAMS: &[&str] = &[
    "这个", "一个", "帮我", "一下", "给我", "我们", "这篇", "这张", "这段", "这份", "那个", "什么",
    "怎么", "可以", "需要", "哪些", "有没", "没有", "请帮", "我的", "里的", "中的", "的行", "看看",
];

pub(super) static STOP_SET: LazyLock<BTreeSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

/// Splits text into terms: stemmed words (stop words and bare numbers dropped, `a-b` also as
/// `ab`) and, for CJK runs, character bigrams plus unigrams.
pub fn tokenize(text: &str) -> Vec<Term> {
    let segments = segments(text);
    let mut terms = Vec::new();
    for (k, seg) in segments.iter().enumerate() {
        if seg.cjk {
            cjk_terms(&seg.text, &mut terms);
            continue;
        }
        if keeps_word(&seg.text) {
            terms.push(Term {
                text: stem(&seg.text),
                surface: seg.text.clone(),
                kind: TermKind::Word,
            });
            // "md5sum", "sha256sum": also the parts, split where letters follow a number.
            for part in tool_name_parts(&seg.text) {
                if keeps_word(part) {
                    terms.push(Term {
                        text: stem(part),
                        surface: seg.text.clone(),
                        kind: TermKind::Word,
                    });
                }
            }
        }
        // "e-mail", "sha-256", "de-duplicate": also the word written solid.
        if let Some(next) = segments.get(k + 1) {
            if !next.cjk && seg.hyphen_after && next.start == seg.end + 1 {
                let joined = format!("{}{}", seg.text, next.text);
                if keeps_word(&joined) {
                    terms.push(Term {
                        text: stem(&joined),
                        surface: format!("{}-{}", seg.text, next.text),
                        kind: TermKind::Word,
                    });
                }
            }
        }
    }
    terms
}

/// The parts of a word like "md5sum" (md5, sum): cut after a run of digits that follows letters
/// and precedes letters. Plain words and "2nd" give nothing.
pub(super) fn tool_name_parts(word: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut cuts = Vec::new();
    let mut seen_letter = false;
    for w in chars.windows(2) {
        let ((_, a), (i, b)) = (w[0], w[1]);
        seen_letter |= a.is_alphabetic();
        if seen_letter && a.is_ascii_digit() && b.is_alphabetic() {
            cuts.push(i);
        }
    }
    if cuts.is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut from = 0;
    for cut in cuts {
        parts.push(&word[from..cut]);
        from = cut;
    }
    parts.push(&word[from..]);
    parts
}

pub(super) fn keeps_word(word: &str) -> bool {
    word.chars().count() > 1
        && !word.chars().all(|c| c.is_ascii_digit())
        && !STOP_SET.contains(word)
}

pub(super) fn cjk_terms(run: &str, out: &mut Vec<Term>) {
    let chars: Vec<char> = run.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !CJK_STOP_CHARS.contains(c) {
            out.push(Term {
                text: c.to_string(),
                surface: c.to_string(),
                kind: TermKind::CjkUnigram,
            });
        }
        if let Some(&d) = chars.get(i + 1) {
            let pair: String = [c, d].iter().collect();
            let both_stop = CJK_STOP_CHARS.contains(c) && CJK_STOP_CHARS.contains(d);
            if !both_stop && !CJK_STOP_BIGRAMS.contains(&pair.as_str()) {
                out.push(Term {
                    text: pair.clone(),
                    surface: pair,
                    kind: TermKind::CjkBigram,
                });
            }
        }
    }
}

/// A run of word characters or of CJK characters, lower-cased, with its char positions.
pub(super) struct Segment {
    pub(super) text: String,
    pub(super) cjk: bool,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) hyphen_after: bool,
}

pub(super) fn segments(text: &str) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Segment> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let cjk = is_cjk(c);
        if !cjk && !c.is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut word = String::new();
        while i < chars.len() {
            let c = chars[i];
            if cjk && is_cjk(c) || !cjk && c.is_alphanumeric() && !is_cjk(c) {
                word.extend(c.to_lowercase());
                i += 1;
            } else if !cjk
                && matches!(c, '\'' | '\u{2019}')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_alphabetic() && !is_cjk(*n))
            {
                // "what's", "customer's", "don't": one word without the apostrophe.
                i += 1;
            } else {
                break;
            }
        }
        let hyphen_after = chars.get(i) == Some(&'-');
        out.push(Segment {
            text: word,
            cjk,
            start,
            end: i,
            hyphen_after,
        });
    }
    out
}
