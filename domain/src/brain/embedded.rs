//! The embedded provider: no network, no model files. It ranks the allowed skills against the
//! request with BM25F over each skill's name, description, output, inputs, README and example
//! requests, and drafts the plan's inputs from the request's own words.
//!
//! Text analysis, in brief: lower-case, Unicode-aware words; ASCII words go through a Porter-style
//! stemmer written here; runs of CJK characters become character bigrams plus unigrams, since
//! Chinese has no spaces between words. A small glossary maps common Chinese (and a few English)
//! phrases onto the English words the skills are described with, a few synonym groups bridge
//! everyday wording, and unknown words get a typo-tolerant second chance. When no skill shares a
//! meaningful term with the request, nothing is recommended: a random guess would look like advice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use chrono::NaiveDate;
use model::skill::{InputField, InputSchema, InputType};
use serde_json::{Map, Value};

use super::{
    is_archive_name, Ask, Attachment, Candidate, PlanDraft, Proposal, ProposalFuture, Provider,
    Recommendation,
};
use crate::skills::manifest::ScriptFolder;

/// How many recommendations a proposal offers at most: more is a list nobody reads.
pub const MAX_RECOMMENDATIONS: usize = 3;

/// A recommendation scoring under this share of the best one is noise next to it: left out.
pub const MIN_SHARE_OF_BEST: f64 = 0.1;

/// The embedded, offline provider.
#[derive(Clone, Copy, Debug, Default)]
pub struct Embedded;

impl Provider for Embedded {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn propose<'a>(&'a self, ask: Ask<'a>, allowed: &'a [Candidate]) -> ProposalFuture<'a> {
        // Pure computation over a few documents: done now, handed back as a ready future.
        let proposal = self.propose_now(&ask, allowed);
        Box::pin(async move { Ok(proposal) })
    }
}

impl Embedded {
    /// The proposal for `ask`: the best few candidates and a plan for the first.
    pub fn propose_now(&self, ask: &Ask<'_>, allowed: &[Candidate]) -> Proposal {
        let mut recommendations = self.rank(ask.request, ask.attachments, allowed);
        let best = recommendations.first().map_or(0.0, |r| r.score);
        recommendations.retain(|r| r.score >= MIN_SHARE_OF_BEST * best);
        recommendations.truncate(MAX_RECOMMENDATIONS);
        let plan = recommendations.first().and_then(|first| {
            let candidate = allowed.iter().find(|c| c.slug == first.slug)?;
            let (inputs, missing) = fill_inputs(ask.request, ask.attachments, &candidate.inputs);
            Some(PlanDraft {
                slug: candidate.slug.clone(),
                inputs,
                missing,
            })
        });
        Proposal {
            recommendations,
            plan,
        }
    }

    /// Every candidate that shares a meaningful term with the request, best first (ties by
    /// slug, so the order is stable).
    pub fn rank(
        &self,
        request: &str,
        attachments: &[Attachment],
        allowed: &[Candidate],
    ) -> Vec<Recommendation> {
        let index = Index::build(allowed);
        let query = Query::build(request, attachments, &index.vocabulary);
        let mut scored: Vec<Recommendation> = allowed
            .iter()
            .enumerate()
            .filter_map(|(i, candidate)| {
                let hit = index.score(i, &query)?;
                Some(Recommendation {
                    slug: candidate.slug.clone(),
                    score: hit.score,
                    why: hit.why(),
                })
            })
            .collect();
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.slug.cmp(&b.slug))
        });
        scored
    }
}

/// A provider candidate built from a script folder, as the seeded demo skills are registered.
pub fn candidate_from_folder(folder: &ScriptFolder) -> Candidate {
    let m = &folder.manifest;
    Candidate {
        slug: m.slug.clone(),
        name: m.name.clone(),
        description: m.description.clone(),
        output: m.output.clone(),
        readme: folder.readme.clone(),
        examples: m.examples.clone(),
        inputs: m.inputs.clone(),
        risk: m.risk,
        requires_confirmation: m.requires_confirmation,
    }
}

// ---------------------------------------------------------------------------------------------
// Text analysis.

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
const STOP_WORDS: &[&str] = &[
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
const CJK_STOP_CHARS: &str = "的了是在我你他她它们这那个把给帮请一下和与及或吗呢吧啊有要就都也还里上得地着过被让将对为从到么什怎哪几能可以会想需看做该所些每";

/// Chinese character pairs of the same kind ("this one", "help me", "a bit").
const CJK_STOP_BIGRAMS: &[&str] = &[
    "这个", "一个", "帮我", "一下", "给我", "我们", "这篇", "这张", "这段", "这份", "那个", "什么",
    "怎么", "可以", "需要", "哪些", "有没", "没有", "请帮", "我的", "里的", "中的", "的行", "看看",
];

static STOP_SET: LazyLock<BTreeSet<&'static str>> =
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
fn tool_name_parts(word: &str) -> Vec<&str> {
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

fn keeps_word(word: &str) -> bool {
    word.chars().count() > 1
        && !word.chars().all(|c| c.is_ascii_digit())
        && !STOP_SET.contains(word)
}

fn cjk_terms(run: &str, out: &mut Vec<Term>) {
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
struct Segment {
    text: String,
    cjk: bool,
    start: usize,
    end: usize,
    hyphen_after: bool,
}

fn segments(text: &str) -> Vec<Segment> {
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

// ---------------------------------------------------------------------------------------------
// Stemming: the five steps of Porter's suffix stripper, preceded by British → American spelling
// (summarise → summarize) and followed by dropping a final y-made "i" (summary → summar), so the
// noun and the verb of our skill texts meet.

/// The stem of one lower-case word; words with anything but ASCII letters are left as they are.
pub fn stem(word: &str) -> String {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_string();
    }
    let mut w = americanize(word).into_bytes();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    replace_longest(&mut w, STEP2, 0);
    replace_longest(&mut w, STEP3, 0);
    step4(&mut w);
    step5(&mut w);
    if w.len() > 4 && w.last() == Some(&b'i') && measure(&w[..w.len() - 1]) > 1 {
        w.pop();
    }
    String::from_utf8(w).expect("ASCII in, ASCII out")
}

fn americanize(word: &str) -> String {
    const ENDINGS: &[(&str, &str)] = &[
        ("isations", "izations"),
        ("isation", "ization"),
        ("ising", "izing"),
        ("ised", "ized"),
        ("ises", "izes"),
        ("isers", "izers"),
        ("iser", "izer"),
        ("ise", "ize"),
        ("ysing", "yzing"),
        ("ysed", "yzed"),
        ("yse", "yze"),
    ];
    for (uk, us) in ENDINGS {
        if let Some(root) = word.strip_suffix(uk) {
            if root.len() >= 4 {
                return format!("{root}{us}");
            }
        }
    }
    word.to_string()
}

fn is_consonant(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !is_consonant(w, i - 1),
        _ => true,
    }
}

/// Porter's m: the number of vowel-consonant sequences in the stem.
fn measure(w: &[u8]) -> usize {
    let n = w.len();
    let mut i = 0;
    while i < n && is_consonant(w, i) {
        i += 1;
    }
    let mut m = 0;
    loop {
        while i < n && !is_consonant(w, i) {
            i += 1;
        }
        if i >= n {
            return m;
        }
        while i < n && is_consonant(w, i) {
            i += 1;
        }
        m += 1;
    }
}

fn has_vowel(w: &[u8]) -> bool {
    (0..w.len()).any(|i| !is_consonant(w, i))
}

fn double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Consonant-vowel-consonant at the end, the last not w, x or y ("hop", not "snow").
fn cvc(w: &[u8]) -> bool {
    let n = w.len();
    n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y')
}

fn step1a(w: &mut Vec<u8>) {
    if w.ends_with(b"sses") || w.ends_with(b"ies") {
        w.truncate(w.len() - 2);
    } else if w.ends_with(b"s") && !w.ends_with(b"ss") && !w.ends_with(b"us") && w.len() > 3 {
        w.pop();
    }
}

fn step1b(w: &mut Vec<u8>) {
    if w.ends_with(b"eed") {
        if measure(&w[..w.len() - 3]) > 0 {
            w.pop();
        }
        return;
    }
    let cut = if w.ends_with(b"ed") && has_vowel(&w[..w.len() - 2]) {
        2
    } else if w.ends_with(b"ing") && has_vowel(&w[..w.len() - 3]) {
        3
    } else {
        return;
    };
    w.truncate(w.len() - cut);
    if w.ends_with(b"at") || w.ends_with(b"bl") || w.ends_with(b"iz") {
        w.push(b'e');
    } else if double_consonant(w) && !matches!(w[w.len() - 1], b'l' | b's' | b'z') {
        w.pop();
    } else if measure(w) == 1 && cvc(w) {
        w.push(b'e');
    }
}

fn step1c(w: &mut [u8]) {
    let n = w.len();
    if n > 2 && w[n - 1] == b'y' && has_vowel(&w[..n - 1]) {
        w[n - 1] = b'i';
    }
}

const STEP2: &[(&str, &str)] = &[
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
];

const STEP3: &[(&str, &str)] = &[
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
];

/// Replaces the longest matching suffix when the stem before it has a measure above `min_m`.
fn replace_longest(w: &mut Vec<u8>, rules: &[(&str, &str)], min_m: usize) {
    let best = rules
        .iter()
        .filter(|(suffix, _)| w.ends_with(suffix.as_bytes()))
        .max_by_key(|(suffix, _)| suffix.len());
    if let Some((suffix, replacement)) = best {
        let root = w.len() - suffix.len();
        if measure(&w[..root]) > min_m {
            w.truncate(root);
            w.extend_from_slice(replacement.as_bytes());
        }
    }
}

fn step4(w: &mut Vec<u8>) {
    const SUFFIXES: &[&str] = &[
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
        "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    ];
    let Some(suffix) = SUFFIXES
        .iter()
        .filter(|s| w.ends_with(s.as_bytes()))
        .max_by_key(|s| s.len())
    else {
        return;
    };
    let root = w.len() - suffix.len();
    let ok = measure(&w[..root]) > 1
        && (*suffix != "ion" || root > 0 && matches!(w[root - 1], b's' | b't'));
    if ok {
        w.truncate(root);
    }
}

fn step5(w: &mut Vec<u8>) {
    if w.ends_with(b"e") {
        let root = &w[..w.len() - 1];
        let m = measure(root);
        if m > 1 || m == 1 && !cvc(root) {
            w.pop();
        }
    }
    if measure(w) > 1 && double_consonant(w) && w.ends_with(b"l") {
        w.pop();
    }
}

// ---------------------------------------------------------------------------------------------
// Bridges between the request's wording and the skills' wording.

/// English words that mean the same thing for our purposes; a request word finds the others at
/// a discount, so a skill using the request's own word still ranks first.
const SYNONYMS: &[&str] = &[
    "delete remove purge erase drop discard wipe clear",
    "old older outdated expired obsolete stale",
    "summary summarize overview statistics stats profile describe",
    "average mean avg",
    "minimum min lowest smallest",
    "maximum max highest largest",
    "checksum hash digest fingerprint",
    "integrity intact corrupt corrupted unchanged tampered",
    "duplicate dedupe deduplicate repeated double unique",
    "convert conversion converter transform",
    "spreadsheet excel xlsx sheet",
    "working business workday weekday",
    "holiday closure vacation",
    "invoice bill quote quotation receipt",
    "vat tax",
    "total sum gross",
    "error exception failure fail fatal critical crash",
    "warning warn",
    "log logfile syslog",
    "word term keyword",
    "frequent common often frequency",
    "count tally number",
    "text document article essay paragraph transcript speech",
    "column field attribute",
    "row record entry",
    "customer client",
    "missing blank empty null",
];

/// Phrases (Chinese, or English of several words) → the English words skills use for them.
/// Chinese entries are a small data-work glossary; they let a Chinese request reach a skill
/// described in English.
const PHRASES: &[(&str, &str)] = &[
    // Looking at data.
    ("汇总", "summary"),
    ("总结", "summary"),
    ("摘要", "summary"),
    ("概况", "overview summary"),
    ("概览", "overview summary"),
    ("统计", "statistics count"),
    ("平均", "average mean"),
    ("最大", "maximum"),
    ("最小", "minimum"),
    ("中位数", "median"),
    ("缺失", "missing"),
    ("空值", "missing empty"),
    ("列", "column"),
    ("字段", "column field"),
    ("行数", "lines count"),
    ("字数", "words count"),
    ("词数", "words count"),
    ("单词", "word"),
    ("词语", "word"),
    ("词", "word"),
    ("文本", "text"),
    ("文档", "document text"),
    ("文章", "text article"),
    ("文件", "file"),
    ("表格", "spreadsheet table csv"),
    ("数据", "data"),
    ("记录", "records rows"),
    ("报告", "report"),
    ("分析", "analyse"),
    ("计算", "calculate"),
    ("检查", "check"),
    ("生成", "generate"),
    // Removing data.
    ("删除", "delete remove"),
    ("删掉", "delete remove"),
    ("清除", "purge remove"),
    ("清理", "clean purge"),
    ("去掉", "remove"),
    ("移除", "remove"),
    ("过期", "expired old"),
    ("旧", "old"),
    ("以前", "before older"),
    ("之前", "before older"),
    ("保留", "retention keep"),
    ("日期", "date"),
    ("截止", "cutoff deadline"),
    // Converting.
    ("转换", "convert"),
    ("转成", "convert"),
    ("转为", "convert"),
    ("变成", "convert"),
    ("导出", "export"),
    ("格式", "format"),
    ("嵌套", "nested"),
    // Duplicates.
    ("重复", "duplicate repeated"),
    ("去重", "deduplicate duplicate"),
    ("唯一", "unique"),
    ("邮箱", "email"),
    ("客户", "customer"),
    // Dates and calendars.
    ("工作日", "working business days"),
    ("节假日", "holidays"),
    ("假日", "holidays"),
    ("假期", "holidays"),
    ("周末", "weekend"),
    ("天数", "days"),
    ("期限", "deadline period"),
    // Money.
    ("发票", "invoice"),
    ("报价", "quote"),
    ("订单", "order"),
    ("增值税", "vat"),
    ("含税", "vat tax total"),
    ("税率", "vat rate"),
    ("税", "tax"),
    ("金额", "amount total"),
    ("合计", "total"),
    ("总额", "total"),
    ("总计", "total"),
    ("一共", "total"),
    ("价格", "price"),
    ("单价", "unit price"),
    ("数量", "quantity"),
    // Logs.
    ("日志", "log"),
    ("错误", "error"),
    ("报错", "error"),
    ("异常", "exception error"),
    ("警告", "warning"),
    ("故障", "failure"),
    ("服务器", "server"),
    // Files and integrity.
    ("校验", "checksum verify"),
    ("哈希", "hash"),
    ("散列", "hash"),
    ("完整", "intact integrity"),
    ("损坏", "corrupt"),
    ("下载", "download"),
    ("安装包", "installer"),
    // Words.
    ("词频", "word frequency"),
    ("频率", "frequency"),
    ("次数", "count"),
    ("最多", "most"),
    ("常用", "common frequent"),
    ("关键词", "keyword"),
    ("出现", "occur"),
    // English phrases.
    ("get rid of", "remove delete"),
    ("how many", "count number"),
    ("how long", "count"),
    ("add up", "sum total"),
    ("comma separated", "csv"),
    ("stop words", "common words"),
    ("line items", "invoice lines"),
    ("purchase order", "invoice order"),
    ("sales tax", "vat"),
    ("wc", "word count lines"),
];

/// Words present in nearly every skill's text: they may add to a score but never make a match.
const GENERIC: &[&str] = &[
    "file", "data", "run", "use", "result", "output", "input", "upload", "download", "show",
    "list", "make", "help", "new", "check", "report",
];

/// Query weights: a request's own word counts fully; what we infer from it counts less.
const W_WORD: f64 = 1.0;
const W_CJK_UNIGRAM: f64 = 0.4;
const W_SPLIT: f64 = 0.9;
const W_GLOSSARY: f64 = 0.8;
const W_TYPO: f64 = 0.7;
const W_RELATED: f64 = 0.6;
const W_PHRASE: f64 = 0.5;
const W_SYNONYM: f64 = 0.5;
const W_ATTACHMENT: f64 = 0.3;

struct Lexicon {
    synonyms: HashMap<String, Vec<String>>,
    phrases: Vec<(String, Vec<String>, f64)>,
    generic: BTreeSet<String>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut synonyms: HashMap<String, Vec<String>> = HashMap::new();
    for group in SYNONYMS {
        let stems: Vec<String> = group.split_whitespace().map(stem).collect();
        for s in &stems {
            let entry = synonyms.entry(s.clone()).or_default();
            entry.extend(stems.iter().filter(|o| *o != s).cloned());
        }
    }
    let phrases = PHRASES
        .iter()
        .map(|(key, words)| {
            let cjk = key.chars().any(is_cjk);
            let stems = words.split_whitespace().map(stem).collect();
            let weight = if cjk { W_GLOSSARY } else { W_PHRASE };
            (key.to_string(), stems, weight)
        })
        .collect();
    let generic = GENERIC.iter().map(|w| stem(w)).collect();
    Lexicon {
        synonyms,
        phrases,
        generic,
    }
});

/// Edit distance with adjacent transpositions, for typos ("recieve"); stops early past `max`.
fn edit_distance(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev2: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        if cur.iter().min().is_some_and(|&m| m > max) {
            return max + 1;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// Two stems of one family the stemmer kept apart (frequenc/frequent, convers/convert).
fn related(a: &str, b: &str) -> bool {
    if a == b || !a.is_ascii() || !b.is_ascii() {
        return false;
    }
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    common >= 5 && common + 2 >= a.len().max(b.len())
}

// ---------------------------------------------------------------------------------------------
// The query.

#[derive(Clone, Debug)]
struct QueryTerm {
    weight: f64,
    /// The request's words this term stands for, for `why`.
    surface: String,
}

struct Query {
    terms: BTreeMap<String, QueryTerm>,
}

impl Query {
    fn add(&mut self, text: &str, weight: f64, surface: &str) {
        let entry = self.terms.entry(text.to_string()).or_insert(QueryTerm {
            weight: 0.0,
            surface: surface.to_string(),
        });
        if weight > entry.weight {
            entry.weight = weight;
            entry.surface = surface.to_string();
        }
    }

    fn build(request: &str, attachments: &[Attachment], vocabulary: &BTreeSet<String>) -> Query {
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
fn flatten_text(text: &str) -> String {
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

fn contains_phrase(flat: &str, key: &str) -> bool {
    if key.chars().any(is_cjk) {
        flat.contains(key)
    } else {
        flat.contains(&format!(" {key} "))
    }
}

/// "wordfrequency" → word + frequenc, when both halves are known words.
fn split_compound(word: &str, vocabulary: &BTreeSet<String>) -> Vec<String> {
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
fn typo_fixes(unknown: &str, vocabulary: &BTreeSet<String>) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// The index: BM25F over each candidate's fields.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum FieldKind {
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
    fn weight_and_b(self) -> (f64, f64) {
        match self {
            FieldKind::Name => (3.0, 0.3),
            FieldKind::Examples => (2.0, 0.5),
            FieldKind::Description => (1.5, 0.6),
            FieldKind::Output => (0.8, 0.6),
            FieldKind::Inputs => (0.8, 0.6),
            FieldKind::Readme => (0.4, 0.75),
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            FieldKind::Name => "the name",
            FieldKind::Description => "the description",
            FieldKind::Examples => "an example request",
            FieldKind::Output => "the output",
            FieldKind::Inputs => "the inputs",
            FieldKind::Readme => "the README",
        }
    }

    fn text(self, c: &Candidate) -> String {
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

const K1: f64 = 1.2;

struct Doc {
    /// Per field: term → occurrences.
    tf: Vec<HashMap<String, f64>>,
    len: Vec<f64>,
}

struct Index {
    docs: Vec<Doc>,
    avg_len: Vec<f64>,
    /// How many candidates hold each term.
    df: HashMap<String, usize>,
    vocabulary: BTreeSet<String>,
}

/// One candidate's score and what earned it.
struct Hit {
    score: f64,
    /// Request word → its share of the score.
    by_word: BTreeMap<String, f64>,
    by_field: BTreeMap<FieldKind, f64>,
}

impl Index {
    fn build(candidates: &[Candidate]) -> Index {
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

    fn idf(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = self.df.get(term).copied().unwrap_or(0) as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// BM25F: per term, the field-weighted, length-normalised frequency saturates once, so a
    /// word repeated across fields helps without swamping the other words of the request.
    /// `None` when the candidate shares nothing meaningful with the request.
    fn score(&self, doc: usize, query: &Query) -> Option<Hit> {
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
    fn why(&self) -> String {
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
fn join_words<S: AsRef<str>>(items: &[S]) -> String {
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

// ---------------------------------------------------------------------------------------------
// Slot filling: the plan's inputs from the request's own words, as the form would send them.

/// The inputs that can be read from the request and the attachments (field → text as the form
/// sends it), and the required fields left without a value or a default.
pub fn fill_inputs(
    request: &str,
    attachments: &[Attachment],
    schema: &InputSchema,
) -> (Map<String, Value>, Vec<String>) {
    let text = Scanned::new(request);
    let mut inputs = Map::new();
    let mut used_attachments = BTreeSet::new();
    let mut used_quotes = BTreeSet::new();
    let mut used_dates = BTreeSet::new();
    let mut used_numbers = BTreeSet::new();

    // Files and quoted strings first: what they claim is not read again as a date or number.
    for field in schema.fields.iter().filter(|f| f.kind.is_upload()) {
        if let Some(i) = pick_attachment(field, request, attachments, &used_attachments) {
            used_attachments.insert(i);
            inputs.insert(field.name.clone(), attachments[i].file_name.clone().into());
        }
    }
    let strings: Vec<&InputField> = schema
        .fields
        .iter()
        .filter(|f| f.kind == InputType::String)
        .collect();
    for field in &strings {
        if let Some(q) = text.quote_near(&field_keys(field), &used_quotes, field.max_length) {
            used_quotes.insert(q);
            inputs.insert(field.name.clone(), text.quotes[q].text.clone().into());
        }
    }
    let open: Vec<&&InputField> = strings
        .iter()
        .filter(|f| !inputs.contains_key(&f.name))
        .collect();
    let free: Vec<usize> = (0..text.quotes.len())
        .filter(|q| !used_quotes.contains(q))
        .collect();
    if let ([field], [q]) = (open.as_slice(), free.as_slice()) {
        let fits = field
            .max_length
            .is_none_or(|max| text.quotes[*q].text.chars().count() <= max);
        if fits {
            used_quotes.insert(*q);
            inputs.insert(field.name.clone(), text.quotes[*q].text.clone().into());
        }
    }
    let claimed: Vec<(usize, usize)> = used_quotes
        .iter()
        .map(|&q| (text.quotes[q].start, text.quotes[q].end))
        .collect();
    let dates: Vec<&Found<NaiveDate>> = text
        .dates
        .iter()
        .filter(|d| !claimed.iter().any(|&(s, e)| d.start >= s && d.start < e))
        .collect();
    let numbers: Vec<&Found<Number>> = text
        .numbers
        .iter()
        .filter(|n| !claimed.iter().any(|&(s, e)| n.start >= s && n.start < e))
        .collect();

    let numeric_fields = schema
        .fields
        .iter()
        .filter(|f| matches!(f.kind, InputType::Integer | InputType::Number))
        .count();
    for field in &schema.fields {
        let value = match field.kind {
            InputType::Enum => text.choice(field),
            InputType::Boolean => text.boolean(field),
            InputType::Date => text.date_for(field, &dates, &mut used_dates),
            InputType::Integer | InputType::Number => {
                text.number_for(field, &numbers, &mut used_numbers, numeric_fields == 1)
            }
            InputType::File | InputType::Folder | InputType::String => None,
        };
        if let Some(v) = value {
            inputs.insert(field.name.clone(), Value::String(v));
        }
    }

    let missing = schema
        .fields
        .iter()
        .filter(|f| {
            f.required
                && f.kind != InputType::Boolean
                && f.default.is_none()
                && !inputs.contains_key(&f.name)
        })
        .map(|f| f.name.clone())
        .collect();
    (inputs, missing)
}

/// The stems a field is known by: its label's and its name's words.
fn field_keys(field: &InputField) -> BTreeSet<String> {
    tokenize(&format!("{} {}", field.label, field.name.replace('_', " ")))
        .into_iter()
        .filter(|t| t.kind == TermKind::Word)
        .map(|t| t.text)
        .collect()
}

/// The words that announce a value for this kind of field ("from …", "before …", "top …").
fn cue_words(field: &InputField) -> BTreeSet<String> {
    let keys = field_keys(field);
    let has = |words: &[&str]| words.iter().any(|w| keys.contains(&stem(w)));
    let mut cues: Vec<&str> = Vec::new();
    if has(&["start", "from", "begin", "first"]) {
        cues.extend(["from", "since", "start", "begin", "从", "自"]);
    }
    if has(&["end", "until", "to", "last"]) {
        cues.extend(["to", "until", "till", "through", "end", "到", "至"]);
    }
    if has(&["before", "cutoff", "older"]) {
        cues.extend(["before", "cutoff", "older", "earlier", "prior", "前"]);
    }
    if has(&["after", "since"]) {
        cues.extend(["after", "since", "后"]);
    }
    if has(&["top", "many", "list"]) {
        cues.extend(["top", "first", "前"]);
    }
    if has(&["rate", "percent", "vat", "tax"]) {
        cues.extend(["rate", "vat", "tax", "percent", "税"]);
    }
    cues.into_iter().map(stem).collect()
}

fn extension(file_name: &str) -> String {
    file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The attachment for a file field: one the request names, else one whose extension fits what
/// the field asks for (a CSV, a log, a JSON file), else the first one left.
fn pick_attachment(
    field: &InputField,
    request: &str,
    attachments: &[Attachment],
    used: &BTreeSet<usize>,
) -> Option<usize> {
    let about = flatten_text(&format!(
        "{} {} {}",
        field.label,
        field.name.replace('_', " "),
        field.description.as_deref().unwrap_or("")
    ));
    const KINDS: &[(&str, &[&str])] = &[
        ("csv", &["csv", "tsv", "txt"]),
        ("json", &["json"]),
        ("log", &["log", "txt", "out"]),
        ("text", &["txt", "md", "text", "log"]),
        ("document", &["txt", "md", "text", "doc", "docx", "pdf"]),
        ("image", &["png", "jpg", "jpeg", "gif", "webp"]),
        ("zip", &["zip"]),
        ("archive", &["zip", "tar", "gz", "tgz"]),
    ];
    let wanted: Vec<&str> = KINDS
        .iter()
        .filter(|(word, _)| about.contains(&format!(" {word} ")))
        .flat_map(|(_, exts)| exts.iter().copied())
        .collect();
    let lower = request.to_lowercase();
    // A folder arrives as an archive of it: nothing else can fill one.
    let takes = |a: &Attachment| field.kind != InputType::Folder || is_archive_name(&a.file_name);
    (0..attachments.len())
        .filter(|&i| !used.contains(&i) && takes(&attachments[i]))
        .max_by_key(|&i| {
            let a = &attachments[i];
            let named = !a.file_name.is_empty() && lower.contains(&a.file_name.to_lowercase());
            let fits = wanted.contains(&extension(&a.file_name).as_str());
            // max_by_key keeps the last of equals: rank earlier attachments higher on ties.
            (u8::from(named) * 2 + u8::from(fits), std::cmp::Reverse(i))
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PieceKind {
    Num,
    Word,
    Cjk,
    Punct,
}

/// A piece of the request for slot filling: a digit run, a letter run, one CJK character or one
/// punctuation character; `token` counts the words before it, for "near" tests.
#[derive(Clone, Debug)]
struct Piece {
    kind: PieceKind,
    text: String,
    start: usize,
    end: usize,
    space_before: bool,
    token: usize,
}

struct Found<T> {
    value: T,
    start: usize,
    /// Word positions covered, for nearness.
    first_token: usize,
    last_token: usize,
}

struct Number {
    text: String,
    value: f64,
    whole: bool,
    percent: bool,
    /// The word right after it ("5 days"), for units.
    unit: Option<String>,
}

struct Quote {
    text: String,
    start: usize,
    end: usize,
    /// Word position just before the opening mark.
    token: usize,
}

struct Scanned {
    pieces: Vec<Piece>,
    /// Stems of the words, by word position.
    stems: Vec<String>,
    quotes: Vec<Quote>,
    dates: Vec<Found<NaiveDate>>,
    numbers: Vec<Found<Number>>,
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_number(word: &str) -> Option<u32> {
    // Full names, and abbreviations of three or four letters ("jan", "sept").
    let short = (3..=4).contains(&word.len());
    MONTHS
        .iter()
        .position(|m| *m == word || short && m.starts_with(word))
        .map(|i| i as u32 + 1)
}

const NEGATIONS: &[&str] = &[
    "not", "no", "dont", "doesnt", "without", "never", "不", "别", "无", "不要",
];
const TIME_UNITS: &[&str] = &[
    "second", "minute", "hour", "day", "week", "month", "year", "天", "日", "周", "月", "年",
    "小时",
];

impl Scanned {
    fn new(text: &str) -> Scanned {
        let pieces = pieces(text);
        let stems = pieces
            .iter()
            .filter(|p| p.kind != PieceKind::Punct)
            .map(|p| match p.kind {
                PieceKind::Word => stem(&p.text),
                _ => p.text.clone(),
            })
            .collect();
        let quotes = quotes(text, &pieces);
        let dates = dates(&pieces);
        let numbers = numbers(&pieces, &dates);
        Scanned {
            pieces,
            stems,
            quotes,
            dates,
            numbers,
        }
    }

    /// Whether one of `keys` is within `before` words before or `after` words after the span.
    fn near(
        &self,
        first: usize,
        last: usize,
        keys: &BTreeSet<String>,
        before: usize,
        after: usize,
    ) -> bool {
        let lo = first.saturating_sub(before);
        let hi = (last + after).min(self.stems.len().saturating_sub(1));
        (lo..=hi)
            .filter(|&i| i < first || i > last)
            .any(|i| self.stems.get(i).is_some_and(|s| keys.contains(s)))
    }

    /// A quoted text right after the field's name (`column "date"`), unused and short enough.
    fn quote_near(
        &self,
        keys: &BTreeSet<String>,
        used: &BTreeSet<usize>,
        max: Option<usize>,
    ) -> Option<usize> {
        (0..self.quotes.len()).find(|&q| {
            let quote = &self.quotes[q];
            !used.contains(&q)
                && max.is_none_or(|m| quote.text.chars().count() <= m)
                && quote.token > 0
                && self.near(quote.token, quote.token - 1, keys, 3, 0)
        })
    }

    /// The one choice the request names ("sha1", "semicolon", "GBP"); none when it names several.
    fn choice(&self, field: &InputField) -> Option<String> {
        let mut words: BTreeSet<String> = BTreeSet::new();
        let spoken: Vec<&Piece> = self
            .pieces
            .iter()
            .filter(|p| p.kind != PieceKind::Cjk)
            .collect();
        for (i, p) in spoken.iter().enumerate() {
            if matches!(p.kind, PieceKind::Word | PieceKind::Num) {
                words.insert(p.text.clone());
                words.insert(stem(&p.text));
            }
            // "sha-256", "sha 256", "sha256": written solid too.
            let mut joined = String::new();
            for q in spoken.iter().skip(i).take(3) {
                if q.kind == PieceKind::Punct && q.text != "-" {
                    break;
                }
                if q.kind != PieceKind::Punct {
                    joined.push_str(&q.text);
                    words.insert(joined.clone());
                }
            }
        }
        let flat = flatten_text(
            &self
                .pieces
                .iter()
                .map(|p| p.text.as_str())
                .collect::<String>(),
        );
        let named: Vec<&String> = field
            .choices
            .iter()
            .filter(|choice| {
                let compact: String = choice
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect();
                if compact.is_empty() {
                    return false;
                }
                if compact.chars().any(is_cjk) {
                    return flat.contains(&compact);
                }
                words.contains(&compact) || words.contains(&stem(&compact))
            })
            .collect();
        match named.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        }
    }

    /// "true" when the request says what the box's label says (most of its words), "false" when
    /// it says so negated ("don't skip common words"); nothing when it is not mentioned.
    fn boolean(&self, field: &InputField) -> Option<String> {
        let keys = field_keys(field);
        let hits: Vec<usize> = (0..self.stems.len())
            .filter(|&i| keys.contains(&self.stems[i]))
            .collect();
        let distinct: BTreeSet<&String> = hits.iter().map(|&i| &self.stems[i]).collect();
        let needed = keys.len().min(2);
        if needed == 0 || distinct.len() < needed {
            return None;
        }
        let first = hits[0];
        let negations: BTreeSet<String> = NEGATIONS.iter().map(|w| w.to_string()).collect();
        let negated = (first.saturating_sub(3)..first).any(|i| negations.contains(&self.stems[i]));
        Some(if negated { "false" } else { "true" }.to_string())
    }

    /// A date for the field: one announced by the field's words or cues ("before 2024-01-01",
    /// "from … to …"), else the next one in the text, so start and end take them in order.
    fn date_for(
        &self,
        field: &InputField,
        dates: &[&Found<NaiveDate>],
        used: &mut BTreeSet<usize>,
    ) -> Option<String> {
        let mut keys = field_keys(field);
        keys.extend(cue_words(field));
        let free: Vec<usize> = (0..dates.len()).filter(|i| !used.contains(i)).collect();
        let pick = free
            .iter()
            .copied()
            .find(|&i| self.near(dates[i].first_token, dates[i].last_token, &keys, 3, 0))
            .or_else(|| free.first().copied())?;
        used.insert(pick);
        Some(dates[pick].value.format("%Y-%m-%d").to_string())
    }

    /// A number for the field, in its range: one next to the field's words ("top 5", "20%
    /// VAT"), or the only number of the request when this is the only numeric field (unless
    /// it is a duration, "last 3 months").
    fn number_for(
        &self,
        field: &InputField,
        numbers: &[&Found<Number>],
        used: &mut BTreeSet<usize>,
        only_numeric: bool,
    ) -> Option<String> {
        let fits = |n: &Number| {
            (field.kind == InputType::Number || n.whole)
                && field.min.is_none_or(|m| n.value >= m)
                && field.max.is_none_or(|m| n.value <= m)
        };
        let mut keys = field_keys(field);
        keys.extend(cue_words(field));
        let percent_field = field.label.contains('%') || keys.contains(&stem("percent"));
        let free: Vec<usize> = (0..numbers.len())
            .filter(|i| !used.contains(i) && fits(&numbers[*i].value))
            .collect();
        let near = |i: &usize| {
            let n = numbers[*i];
            self.near(n.first_token, n.last_token, &keys, 3, 3) || percent_field && n.value.percent
        };
        let pick = free.iter().copied().find(near).or_else(|| {
            let unit_ok = |n: &Number| {
                n.unit.as_ref().is_none_or(|u| {
                    let u = stem(u);
                    !TIME_UNITS.iter().any(|t| stem(t) == u) || keys.contains(&u)
                })
            };
            match free.as_slice() {
                [one] if only_numeric && numbers.len() == 1 && unit_ok(&numbers[*one].value) => {
                    Some(*one)
                }
                _ => None,
            }
        })?;
        used.insert(pick);
        Some(numbers[pick].value.text.clone())
    }
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut token = 0;
    let mut space_before = true;
    let mut iter = text.char_indices().peekable();
    while let Some((start, c)) = iter.next() {
        if c.is_whitespace() {
            space_before = true;
            continue;
        }
        let kind = if is_cjk(c) {
            PieceKind::Cjk
        } else if c.is_ascii_digit() {
            PieceKind::Num
        } else if c.is_alphabetic() {
            PieceKind::Word
        } else {
            PieceKind::Punct
        };
        let mut piece = String::new();
        piece.extend(c.to_lowercase());
        let mut end = start + c.len_utf8();
        if matches!(kind, PieceKind::Num | PieceKind::Word) {
            while let Some(&(i, n)) = iter.peek() {
                let same = match kind {
                    PieceKind::Num => n.is_ascii_digit(),
                    _ => n.is_alphabetic() && !is_cjk(n) || matches!(n, '\'' | '\u{2019}'),
                };
                if !same {
                    break;
                }
                if !matches!(n, '\'' | '\u{2019}') {
                    piece.extend(n.to_lowercase());
                }
                end = i + n.len_utf8();
                iter.next();
            }
        }
        let counted = kind != PieceKind::Punct;
        out.push(Piece {
            kind,
            text: piece,
            start,
            end,
            space_before,
            token,
        });
        if counted {
            token += 1;
        }
        space_before = false;
    }
    out
}

/// Text between quotation marks: "…", “…”, ‘…’, 「…」, 『…』, and '…' when the marks stand at
/// word edges (so "don't" opens nothing).
fn quotes(text: &str, pieces: &[Piece]) -> Vec<Quote> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, open) = chars[i];
        let close = match open {
            '"' => '"',
            '\u{201c}' => '\u{201d}',
            '\u{2018}' => '\u{2019}',
            '\u{300c}' => '\u{300d}',
            '\u{300e}' => '\u{300f}',
            '\'' if i == 0 || !chars[i - 1].1.is_alphanumeric() => '\'',
            _ => {
                i += 1;
                continue;
            }
        };
        let found = (i + 1..chars.len()).find(|&j| {
            chars[j].1 == close
                && (close != '\'' || chars.get(j + 1).is_none_or(|(_, n)| !n.is_alphanumeric()))
        });
        let Some(j) = found else {
            i += 1;
            continue;
        };
        let inner_start = chars[i].0 + open.len_utf8();
        let inner = text[inner_start..chars[j].0].trim();
        let end = chars[j].0 + close.len_utf8();
        if !inner.is_empty() && inner.chars().count() <= 2000 {
            let token = pieces
                .iter()
                .filter(|p| p.end <= start && p.kind != PieceKind::Punct)
                .count();
            out.push(Quote {
                text: inner.to_string(),
                start,
                end,
                token,
            });
        }
        i = j + 1;
    }
    out
}

/// Dates written `2024-01-31` (or with / or .), `31 January 2024`, `31st of Jan 2024`,
/// `January 31, 2024` and `2024年1月31日`; only real days, only with a year.
fn dates(p: &[Piece]) -> Vec<Found<NaiveDate>> {
    let num = |i: usize, max_len: usize| -> Option<u32> {
        let piece = p.get(i)?;
        (piece.kind == PieceKind::Num && piece.text.len() <= max_len)
            .then(|| piece.text.parse().ok())
            .flatten()
    };
    let year = |i: usize| -> Option<i32> {
        let piece = p.get(i)?;
        (piece.kind == PieceKind::Num && piece.text.len() == 4)
            .then(|| piece.text.parse().ok())
            .flatten()
    };
    let glued = |i: usize| p.get(i).is_some_and(|x| !x.space_before);
    let is = |i: usize, text: &str| p.get(i).is_some_and(|x| x.text == text);
    let word = |i: usize| {
        p.get(i)
            .filter(|x| x.kind == PieceKind::Word)
            .map(|x| x.text.as_str())
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let mut found: Option<(NaiveDate, usize)> = None;
        // 2024-01-31, 2024/01/31, 2024.01.31
        if let Some(y) = year(i) {
            let sep = p.get(i + 1).map(|x| x.text.as_str());
            if matches!(sep, Some("-" | "/" | "."))
                && glued(i + 1)
                && glued(i + 2)
                && glued(i + 3)
                && glued(i + 4)
                && p.get(i + 3).map(|x| x.text.as_str()) == sep
            {
                if let (Some(m), Some(d)) = (num(i + 2, 2), num(i + 4, 2)) {
                    found = NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, i + 4));
                }
            }
            // 2024年1月31日
            if found.is_none()
                && is(i + 1, "年")
                && is(i + 3, "月")
                && (is(i + 5, "日") || is(i + 5, "号"))
            {
                if let (Some(m), Some(d)) = (num(i + 2, 2), num(i + 4, 2)) {
                    found = NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, i + 5));
                }
            }
        }
        // 31 January 2024, 31st of Jan 2024
        if found.is_none() {
            if let Some(d) = num(i, 2) {
                let mut k = i + 1;
                if word(k).is_some_and(|w| matches!(w, "st" | "nd" | "rd" | "th")) && glued(k) {
                    k += 1;
                }
                if word(k) == Some("of") {
                    k += 1;
                }
                if let Some(m) = word(k).and_then(month_number) {
                    k += 1;
                    if is(k, ",") {
                        k += 1;
                    }
                    if let Some(y) = year(k) {
                        found = NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, k));
                    }
                }
            }
        }
        // January 31, 2024
        if found.is_none() {
            if let Some(m) = word(i).and_then(month_number) {
                if let Some(d) = num(i + 1, 2) {
                    let mut k = i + 2;
                    if word(k).is_some_and(|w| matches!(w, "st" | "nd" | "rd" | "th")) && glued(k) {
                        k += 1;
                    }
                    if is(k, ",") {
                        k += 1;
                    }
                    if let Some(y) = year(k) {
                        found = NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, k));
                    }
                }
            }
        }
        match found {
            Some((date, last)) => {
                out.push(Found {
                    value: date,
                    start: p[i].start,
                    first_token: p[i].token,
                    last_token: p[last].token,
                });
                i = last + 1;
            }
            None => i += 1,
        }
    }
    out
}

/// Free-standing numbers: not part of a date, a word ("md5"), a file name ("2023.csv"), a
/// version or a time of day. `1,000` and `7.5` and `7,5` are one number each.
fn numbers(p: &[Piece], dates: &[Found<NaiveDate>]) -> Vec<Found<Number>> {
    let in_date = |piece: &Piece| {
        dates
            .iter()
            .any(|d| piece.token >= d.first_token && piece.token <= d.last_token)
    };
    let glued = |i: usize| p.get(i).is_some_and(|x| !x.space_before);
    let kind = |i: usize| p.get(i).map(|x| x.kind);
    let text = |i: usize| p.get(i).map(|x| x.text.as_str()).unwrap_or("");
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        if p[i].kind != PieceKind::Num || in_date(&p[i]) {
            i += 1;
            continue;
        }
        let first = i;
        let mut digits = p[i].text.clone();
        let mut whole = true;
        let mut k = i;
        // 1,000,000 (groups of three) or 7.5 / 7,5 (a decimal part).
        while matches!(text(k + 1), "," | ".")
            && glued(k + 1)
            && glued(k + 2)
            && kind(k + 2) == Some(PieceKind::Num)
        {
            let sep = text(k + 1);
            let next = text(k + 2);
            if sep == "," && next.len() == 3 && whole {
                digits.push_str(next);
            } else if whole {
                digits.push('.');
                digits.push_str(next);
                whole = false;
            } else {
                break;
            }
            k += 2;
        }
        let last = k;
        i = k + 1;
        let before_glued = glued(first) && first > 0;
        let prev_kind = first.checked_sub(1).and_then(kind);
        let prev_text = first.checked_sub(1).map(text).unwrap_or("");
        // Glued to a letter or a path ("md5", "v2", "x.2"), or to a time or version mark.
        if before_glued
            && (prev_kind == Some(PieceKind::Word) || matches!(prev_text, "." | ":" | "_" | "/"))
        {
            continue;
        }
        let next_glued = glued(last + 1);
        let next_text = text(last + 1);
        if next_glued && kind(last + 1) == Some(PieceKind::Word) {
            continue;
        }
        if next_glued
            && matches!(next_text, "." | ":" | "_" | "/" | "-")
            && glued(last + 2)
            && matches!(kind(last + 2), Some(PieceKind::Word | PieceKind::Num))
        {
            continue;
        }
        let negative = before_glued && prev_text == "-" && !glued(first - 1);
        let percent = next_glued && next_text == "%" || matches!(next_text, "percent" | "pct");
        let unit = (!percent)
            .then(|| p.get(last + 1))
            .flatten()
            .filter(|x| matches!(x.kind, PieceKind::Word | PieceKind::Cjk))
            .map(|x| x.text.clone());
        let text = if negative {
            format!("-{digits}")
        } else {
            digits
        };
        let Ok(value) = text.parse::<f64>() else {
            continue;
        };
        out.push(Found {
            value: Number {
                text,
                value,
                whole,
                percent,
                unit,
            },
            start: p[first].start,
            first_token: p[first].token,
            last_token: p[last].token,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The quality set and its bench: `brain-eval/requests.toml`, measured by `src/bin/brain-eval.rs`
// and by the test below.

pub mod eval {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::{candidate_from_folder, Embedded};
    use crate::brain::{Ask, Candidate};
    use crate::skills::manifest::demo_skill_folders;

    /// The quality set, compiled in so the bench and the test read the same requests.
    pub const REQUESTS: &str = include_str!("../../brain-eval/requests.toml");

    #[derive(Clone, Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EvalRequest {
        pub tenant: String,
        pub text: String,
        pub expect: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EvalFile {
        request: Vec<EvalRequest>,
    }

    pub fn load(toml_text: &str) -> Result<Vec<EvalRequest>, String> {
        toml::from_str::<EvalFile>(toml_text)
            .map(|f| f.request)
            .map_err(|e| e.to_string())
    }

    /// The seeded demo skills of a tenant, as the brain would see them.
    pub fn candidates(tenant: &str) -> Vec<Candidate> {
        demo_skill_folders(tenant)
            .iter()
            .map(candidate_from_folder)
            .collect()
    }

    /// A ranker under test: request and candidates in, slugs best first out.
    pub type Ranker = fn(&str, &[Candidate]) -> Vec<String>;

    /// The embedded provider's proposal, as a person would see it (at most three, none weak).
    pub fn embedded(request: &str, candidates: &[Candidate]) -> Vec<String> {
        let ask = Ask {
            request,
            attachments: &[],
        };
        Embedded
            .propose_now(&ask, candidates)
            .recommendations
            .into_iter()
            .map(|r| r.slug)
            .collect()
    }

    /// The naive baseline: lower-cased words split on anything not alphanumeric (so a Chinese
    /// sentence is one "word"), counted once each, matched exactly against all of a skill's
    /// text; no stemming, no weighting, no bigrams, no synonyms.
    pub fn baseline(request: &str, candidates: &[Candidate]) -> Vec<String> {
        fn words(text: &str) -> std::collections::BTreeSet<String> {
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        let asked = words(request);
        let mut scored: Vec<(usize, &str)> = candidates
            .iter()
            .map(|c| {
                let all = format!(
                    "{} {} {} {} {} {}",
                    c.name,
                    c.slug,
                    c.description,
                    c.output,
                    c.readme,
                    c.examples.join(" ")
                );
                let have = words(&all);
                (asked.intersection(&have).count(), c.slug.as_str())
            })
            .filter(|(n, _)| *n > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().map(|(_, s)| s.to_string()).collect()
    }

    #[derive(Clone, Debug, Default)]
    pub struct Tally {
        pub total: usize,
        pub top1: usize,
        pub top3: usize,
    }

    impl Tally {
        pub fn top1_rate(&self) -> f64 {
            self.top1 as f64 / self.total.max(1) as f64
        }
        pub fn top3_rate(&self) -> f64 {
            self.top3 as f64 / self.total.max(1) as f64
        }
    }

    /// One request the ranker did not put first.
    #[derive(Clone, Debug)]
    pub struct Miss {
        pub request: EvalRequest,
        pub ranked: Vec<String>,
    }

    #[derive(Clone, Debug, Default)]
    pub struct Outcome {
        pub per_tenant: BTreeMap<String, Tally>,
        pub overall: Tally,
        pub misses: Vec<Miss>,
    }

    /// Runs every request through `ranker` over its tenant's demo skills.
    pub fn measure(requests: &[EvalRequest], ranker: Ranker) -> Outcome {
        let mut pools: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        let mut out = Outcome::default();
        for r in requests {
            let pool = pools
                .entry(r.tenant.clone())
                .or_insert_with(|| candidates(&r.tenant));
            let ranked = ranker(&r.text, pool);
            let position = ranked.iter().position(|s| *s == r.expect);
            let tally = out.per_tenant.entry(r.tenant.clone()).or_default();
            for t in [tally, &mut out.overall] {
                t.total += 1;
                t.top1 += usize::from(position == Some(0));
                t.top3 += usize::from(position.is_some_and(|p| p < 3));
            }
            if position != Some(0) {
                out.misses.push(Miss {
                    request: r.clone(),
                    ranked,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::skill::RiskLevel;

    fn field(name: &str, label: &str, kind: InputType) -> InputField {
        InputField {
            name: name.into(),
            label: label.into(),
            kind,
            required: true,
            description: None,
            choices: Vec::new(),
            min: None,
            max: None,
            max_length: None,
            default: None,
        }
    }

    fn candidate(slug: &str, name: &str, description: &str, examples: &[&str]) -> Candidate {
        Candidate {
            slug: slug.into(),
            name: name.into(),
            description: description.into(),
            output: String::new(),
            readme: String::new(),
            examples: examples.iter().map(|e| e.to_string()).collect(),
            inputs: InputSchema::default(),
            risk: RiskLevel::Low,
            requires_confirmation: false,
        }
    }

    fn texts(terms: &[Term]) -> Vec<&str> {
        terms.iter().map(|t| t.text.as_str()).collect()
    }

    fn ask<'a>(request: &'a str, attachments: &'a [Attachment]) -> Ask<'a> {
        Ask {
            request,
            attachments,
        }
    }

    fn attachment(name: &str) -> Attachment {
        Attachment {
            file_name: name.into(),
            size: 10,
        }
    }

    #[test]
    fn stemmer_joins_word_families() {
        for (words, want) in [
            (
                &[
                    "summary",
                    "summaries",
                    "summarise",
                    "summarize",
                    "summarising",
                ][..],
                "summar",
            ),
            (&["delete", "deleted", "deleting", "deletion"][..], "delet"),
            (&["calculate", "calculator", "calculation"][..], "calcul"),
            (&["generate", "generator", "generation"][..], "gener"),
            (&["duplicate", "duplicates", "duplicated"][..], "duplic"),
            (&["row", "rows"][..], "row"),
            (&["business", "businesses"][..], "busi"),
            (&["hopping", "hopped"][..], "hop"),
            (&["remove", "removal", "removing"][..], "remov"),
        ] {
            for w in words {
                assert_eq!(stem(w), want, "{w}");
            }
        }
        // Porter's classic cases, and words left alone.
        assert_eq!(stem("caresses"), "caress");
        assert_eq!(stem("ponies"), "poni");
        assert_eq!(stem("relational"), "relat");
        assert_eq!(stem("hopeful"), "hope");
        assert_eq!(stem("agreed"), "agre");
        // Unlike Porter, -us is no plural: status, bonus, virus keep their s.
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("csv"), "csv");
        assert_eq!(stem("naïve"), "naïve");
        assert_eq!(stem("sha256"), "sha256");
    }

    #[test]
    fn tokenizer_lowercases_drops_stop_words_and_joins_hyphens() {
        let terms = tokenize("Please SUMMARISE the customer's CSV-file, SHA-256 and 2024!");
        assert_eq!(
            texts(&terms),
            ["summar", "custom", "csv", "csvfile", "file", "sha", "sha256"]
        );
        assert_eq!(terms[1].surface, "customers");
        assert!(tokenize("the of and 123").is_empty());
        assert_eq!(
            texts(&tokenize("md5sum utf8 2nd")),
            ["md5sum", "md5", "sum", "utf8", "2nd"]
        );
        // Non-ASCII Latin words are words too, lower-cased.
        assert_eq!(texts(&tokenize("Über Größe")), ["über", "größe"]);
    }

    #[test]
    fn cjk_runs_become_bigrams_and_unigrams() {
        let terms = tokenize("删除重复行");
        let bigrams: Vec<&str> = terms
            .iter()
            .filter(|t| t.kind == TermKind::CjkBigram)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(bigrams, ["删除", "除重", "重复", "复行"]);
        let unigrams: Vec<&str> = terms
            .iter()
            .filter(|t| t.kind == TermKind::CjkUnigram)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(unigrams, ["删", "除", "重", "复", "行"]);
        // Mixed scripts split at the boundary; grammar characters alone are dropped.
        let mixed = tokenize("把JSON文件转换成CSV");
        assert!(texts(&mixed).contains(&"json"));
        assert!(texts(&mixed).contains(&"文件"));
        assert!(texts(&mixed).contains(&"csv"));
        assert!(!texts(&mixed).contains(&"把"));
        // Japanese kana and Korean count as CJK.
        assert!(is_cjk('の') && is_cjk('한') && !is_cjk('a') && !is_cjk('é'));
    }

    #[test]
    fn edit_distance_and_related_stems() {
        assert_eq!(edit_distance("invoce", "invoice", 2), 1);
        assert_eq!(edit_distance("form", "from", 2), 1);
        assert_eq!(edit_distance("kitten", "sitting", 5), 3);
        assert_eq!(edit_distance("abc", "abcdefgh", 2), 3);
        assert!(related("frequenc", "frequent"));
        assert!(related("convers", "convert"));
        assert!(!related("summar", "summit"));
    }

    #[test]
    fn bm25_ranks_the_closest_skill_first() {
        let skills = [
            candidate(
                "csv-summary",
                "CSV summariser",
                "Summarises every column of a CSV file.",
                &["Summarise this CSV"],
            ),
            candidate(
                "purge",
                "Purge old rows",
                "Removes rows older than a cutoff date from a CSV file.",
                &["Delete old records"],
            ),
            candidate(
                "checksum",
                "File checksum",
                "Computes the SHA-256 checksum of a file.",
                &[],
            ),
        ];
        let rank = |q: &str| -> Vec<String> {
            Embedded
                .rank(q, &[], &skills)
                .into_iter()
                .map(|r| r.slug)
                .collect()
        };
        assert_eq!(rank("summarize my csv columns")[0], "csv-summary");
        assert_eq!(rank("delete the old rows of a csv")[0], "purge");
        assert_eq!(rank("sha256 hash of the file")[0], "checksum");
        // A typo and a Chinese request still find their skill.
        assert_eq!(rank("sumarize the csv")[0], "csv-summary");
        assert_eq!(rank("删除旧记录")[0], "purge");
        // Both CSV skills rank above the checksum one for a CSV request.
        let csv = rank("csv file");
        assert_eq!(csv.len(), 2, "{csv:?}");
        let why = &Embedded.rank("summarise the csv", &[], &skills)[0].why;
        assert!(why.starts_with("Matches \u{201c}"), "{why}");
        assert!(why.contains("the name"), "{why}");
    }

    #[test]
    fn nothing_shared_means_no_recommendation() {
        let skills = [candidate(
            "csv-summary",
            "CSV summariser",
            "Summarises every column of a CSV file.",
            &[],
        )];
        for q in [
            "",
            "hello there",
            "what is the weather like in Paris",
            "天气怎么样",
            "the file",
            "123",
        ] {
            let p = Embedded.propose_now(&ask(q, &[]), &skills);
            assert!(p.recommendations.is_empty(), "{q}: {p:?}");
            assert!(p.plan.is_none());
        }
        assert!(Embedded
            .propose_now(&ask("summary", &[]), &[])
            .recommendations
            .is_empty());
    }

    #[test]
    fn proposal_plans_the_first_recommendation() {
        let mut summary = candidate(
            "csv-summary",
            "CSV summariser",
            "Summarises every column of a CSV file.",
            &[],
        );
        let mut top = field(
            "top_values",
            "Top values per text column",
            InputType::Integer,
        );
        top.required = false;
        top.min = Some(1.0);
        top.max = Some(10.0);
        top.default = Some(3.into());
        summary.inputs.fields = vec![field("data", "CSV file", InputType::File), top];
        let files = [attachment("sales.csv")];
        let p = Embedded.propose_now(
            &ask("summarise sales.csv with the top 5 values", &files),
            &[summary],
        );
        let plan = p.plan.expect("a plan");
        assert_eq!(plan.slug, "csv-summary");
        assert_eq!(plan.inputs["data"], "sales.csv");
        assert_eq!(plan.inputs["top_values"], "5");
        assert!(plan.missing.is_empty());
    }

    #[test]
    fn provider_trait_answers_through_the_future() {
        let skills = [candidate(
            "checksum",
            "File checksum",
            "Computes a checksum.",
            &[],
        )];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let p = rt
            .block_on(Embedded.propose(ask("checksum please", &[]), &skills))
            .unwrap();
        assert_eq!(Embedded.name(), "embedded");
        assert_eq!(p.recommendations[0].slug, "checksum");
    }

    fn schema(fields: Vec<InputField>) -> InputSchema {
        InputSchema { fields }
    }

    #[test]
    fn fills_numbers_within_range_next_to_their_field() {
        let mut top = field("top_n", "How many words to list", InputType::Integer);
        top.min = Some(1.0);
        top.max = Some(100.0);
        let s = schema(vec![top.clone()]);
        assert_eq!(fill_inputs("the top 30 words", &[], &s).0["top_n"], "30");
        assert_eq!(fill_inputs("list 20 words", &[], &s).0["top_n"], "20");
        assert_eq!(fill_inputs("前5个词", &[], &s).0["top_n"], "5");
        // Out of range, a fraction for an integer, glued to letters, or part of a file name.
        for q in [
            "top 500 words",
            "top 2.5 words",
            "md5 words",
            "words of 2023.csv",
        ] {
            let (inputs, missing) = fill_inputs(q, &[], &s);
            assert!(inputs.is_empty(), "{q}: {inputs:?}");
            assert_eq!(missing, ["top_n"]);
        }
        // The only number, for the only numeric field, unless it is a duration.
        assert_eq!(fill_inputs("count 15 please", &[], &s).0["top_n"], "15");
        assert!(fill_inputs("the last 3 months", &[], &s).0.is_empty());

        let mut rate = field("vat_rate", "VAT rate (%)", InputType::Number);
        rate.min = Some(0.0);
        rate.max = Some(100.0);
        let s = schema(vec![rate, top]);
        let (inputs, _) = fill_inputs("invoice for 3 items at 7.5% VAT, show the top 4", &[], &s);
        assert_eq!(inputs["vat_rate"], "7.5");
        assert_eq!(inputs["top_n"], "4");
        assert_eq!(fill_inputs("税率13%", &[], &s).0["vat_rate"], "13");
    }

    #[test]
    fn fills_dates_in_several_writings() {
        let s = schema(vec![
            field("start", "Start date", InputType::Date),
            field("end", "End date", InputType::Date),
        ]);
        let cases = [
            ("from 2024-07-01 to 2024-08-15", "2024-07-01", "2024-08-15"),
            (
                "between 31 January 2024 and March 3rd, 2024",
                "2024-01-31",
                "2024-03-03",
            ),
            (
                "to 2024/12/31 from 1st of Dec 2024",
                "2024-12-01",
                "2024-12-31",
            ),
            ("2024年1月31日到2024年2月29日", "2024-01-31", "2024-02-29"),
        ];
        for (q, start, end) in cases {
            let (inputs, missing) = fill_inputs(q, &[], &s);
            assert_eq!(inputs["start"], start, "{q}");
            assert_eq!(inputs["end"], end, "{q}");
            assert!(missing.is_empty());
        }
        // Not a real day, or no year: nothing is guessed.
        let (inputs, missing) = fill_inputs("from 2024-02-30 to 3 March", &[], &s);
        assert!(inputs.is_empty(), "{inputs:?}");
        assert_eq!(missing, ["start", "end"]);

        let cutoff = schema(vec![field(
            "cutoff",
            "Remove rows dated before",
            InputType::Date,
        )]);
        let (inputs, _) = fill_inputs(
            "on 2024-05-01 remove everything before 2023-01-01",
            &[],
            &cutoff,
        );
        assert_eq!(inputs["cutoff"], "2023-01-01");
    }

    #[test]
    fn fills_enums_booleans_and_quoted_strings() {
        let mut algorithm = field("algorithm", "Algorithm", InputType::Enum);
        algorithm.choices = vec!["sha256".into(), "sha1".into(), "md5".into()];
        algorithm.required = false;
        algorithm.default = Some("sha256".into());
        let mut skip = field(
            "skip_common_words",
            "Skip common English words",
            InputType::Boolean,
        );
        skip.required = false;
        let mut column = field("date_column", "Date column", InputType::String);
        column.max_length = Some(100);
        let s = schema(vec![algorithm, skip, column]);

        let (inputs, missing) = fill_inputs(
            "use SHA-1, skipping common words, column \"order date\"",
            &[],
            &s,
        );
        assert_eq!(inputs["algorithm"], "sha1");
        assert_eq!(inputs["skip_common_words"], "true");
        assert_eq!(inputs["date_column"], "order date");
        assert!(missing.is_empty());

        let (inputs, missing) = fill_inputs("md5 or sha256? don't skip common words", &[], &s);
        assert!(
            !inputs.contains_key("algorithm"),
            "two choices named: {inputs:?}"
        );
        assert_eq!(inputs["skip_common_words"], "false");
        assert_eq!(missing, ["date_column"]);

        // Unquoted text is never taken for a string; an apostrophe is not a quote.
        let (inputs, _) = fill_inputs("the customer's column is date", &[], &s);
        assert!(!inputs.contains_key("date_column"), "{inputs:?}");
        // A lone quoted text goes to the lone string field; Chinese quotes count.
        assert_eq!(
            fill_inputs("use \u{300c}created_at\u{300d}", &[], &s).0["date_column"],
            "created_at"
        );
    }

    #[test]
    fn fills_a_folder_only_from_an_attached_archive() {
        let photos = field("photos", "Photos", InputType::Folder);
        let s = schema(vec![photos]);
        let files = [attachment("notes.csv"), attachment("Trip.ZIP")];
        let (inputs, missing) = fill_inputs("sort my photos", &files, &s);
        assert_eq!(inputs["photos"], "Trip.ZIP");
        assert!(missing.is_empty());
        // No archive attached: the folder is missing, even with other files there.
        let (inputs, missing) = fill_inputs("sort my photos", &files[..1], &s);
        assert!(!inputs.contains_key("photos"), "{inputs:?}");
        assert_eq!(missing, ["photos"]);
    }

    #[test]
    fn fills_files_from_attachments_preferring_a_fitting_one() {
        let mut data = field("data", "CSV file", InputType::File);
        data.description = Some("A UTF-8 CSV file.".into());
        let log = field("log", "Log file", InputType::File);
        let s = schema(vec![data.clone(), log]);
        let files = [attachment("app.log"), attachment("orders.csv")];
        let (inputs, missing) = fill_inputs("look at these", &files, &s);
        assert_eq!(inputs["data"], "orders.csv");
        assert_eq!(inputs["log"], "app.log");
        assert!(missing.is_empty());

        // The file the request names wins over the first one.
        let one = schema(vec![data]);
        let files = [attachment("a.csv"), attachment("b.csv")];
        assert_eq!(
            fill_inputs("summarise b.csv", &files, &one).0["data"],
            "b.csv"
        );
        assert_eq!(fill_inputs("summarise", &files, &one).0["data"], "a.csv");
        // No attachment: the file is missing, whatever the request names.
        let (inputs, missing) = fill_inputs("summarise sales.csv", &[], &one);
        assert!(inputs.is_empty());
        assert_eq!(missing, ["data"]);
    }

    #[test]
    fn missing_skips_defaults_optionals_and_booleans() {
        let mut optional = field("note", "Note", InputType::String);
        optional.required = false;
        let mut defaulted = field("n", "Count", InputType::Integer);
        defaulted.default = Some(3.into());
        let flag = field("flag", "Flag", InputType::Boolean);
        let needed = field("day", "Day", InputType::Date);
        let s = schema(vec![optional, defaulted, flag, needed]);
        assert_eq!(fill_inputs("nothing useful", &[], &s).1, ["day"]);
    }

    /// Requests as people type them, over the seeded demo skills: the right skill first and its
    /// form filled as far as the words allow.
    #[test]
    fn plans_for_the_demo_skills() {
        // Tenant, request, attachments, expected skill, expected inputs, expected missing.
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [&'a str],
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (
                "acme",
                "turn sales.csv into a weekly summary",
                &["sales.csv"],
                "csv-summary",
                &[("data", "sales.csv")],
                &[],
            ),
            (
                "acme",
                "delete rows older than 2023-01-01 from orders.csv, date column \"created_at\"",
                &["orders.csv"],
                "purge-old-rows",
                &[("data", "orders.csv"), ("date_column", "created_at"), ("cutoff", "2023-01-01")],
                &[],
            ),
            (
                "acme",
                "Remove the rows of orders-x1y2.csv dated before 2024-01-01",
                &["orders-x1y2.csv"],
                "purge-old-rows",
                &[("data", "orders-x1y2.csv"), ("cutoff", "2024-01-01")],
                &["date_column"],
            ),
            (
                "acme",
                "Summarise the columns of sales-x1y2.csv",
                &["sales-x1y2.csv"],
                "csv-summary",
                &[("data", "sales-x1y2.csv")],
                &[],
            ),
            (
                "acme",
                "purge old rows",
                &[],
                "purge-old-rows",
                &[],
                &["data", "date_column", "cutoff"],
            ),
            (
                "acme",
                "business days from 2024-12-20 to 3 January 2025, holidays \"2024-12-25, 2024-12-26\"",
                &[],
                "business-days",
                &[("start", "2024-12-20"), ("end", "2025-01-03"), ("holidays", "2024-12-25, 2024-12-26")],
                &[],
            ),
            (
                "acme",
                "2024年3月1日到2024年4月30日之间有多少个工作日",
                &[],
                "business-days",
                &[("start", "2024-03-01"), ("end", "2024-04-30")],
                &[],
            ),
            (
                "acme",
                "invoice total with 19% VAT in GBP",
                &["lines.csv"],
                "invoice-total",
                &[("lines", "lines.csv"), ("vat_rate", "19"), ("currency", "GBP")],
                &[],
            ),
            (
                "acme",
                "count only the errors in app.log, top 5 messages",
                &["notes.txt", "app.log"],
                "log-errors",
                &[("log", "app.log"), ("level", "error"), ("top_n", "5")],
                &[],
            ),
            (
                "acme",
                "convert orders.json to csv with semicolons, don't flatten nested objects",
                &["orders.json"],
                "json-to-csv",
                &[("source", "orders.json"), ("delimiter", "semicolon"), ("flatten", "false")],
                &[],
            ),
            (
                "acme",
                "remove duplicate rows by \"email\", ignoring case",
                &["contacts.csv"],
                "dedupe-rows",
                &[("data", "contacts.csv"), ("key_columns", "email"), ("ignore_case", "true")],
                &[],
            ),
            (
                "globex",
                "sha1 of release.zip",
                &["release.zip"],
                "checksum",
                &[("file", "release.zip"), ("algorithm", "sha1")],
                &[],
            ),
            (
                "globex",
                "top 25 words in speech.txt, skip common words",
                &["speech.txt"],
                "word-frequency",
                &[("document", "speech.txt"), ("top_n", "25"), ("skip_common_words", "true")],
                &[],
            ),
        ];
        // The browser journey's requests (end2end/tests/assistant.mjs) offer more than one skill.
        for (request, file) in [
            ("Summarise the columns of sales-x1y2.csv", "sales-x1y2.csv"),
            (
                "Remove the rows of orders-x1y2.csv dated before 2024-01-01",
                "orders-x1y2.csv",
            ),
        ] {
            let files = [attachment(file)];
            let p = Embedded.propose_now(&ask(request, &files), &eval::candidates("acme"));
            assert!(
                p.recommendations.len() > 1,
                "{request}: {:?}",
                p.recommendations
            );
        }
        for (tenant, request, files, slug, inputs, missing) in cases {
            let files: Vec<Attachment> = files.iter().map(|f| attachment(f)).collect();
            let skills = eval::candidates(tenant);
            let p = Embedded.propose_now(&ask(request, &files), &skills);
            let plan = p.plan.unwrap_or_else(|| panic!("{request}: no plan"));
            assert_eq!(plan.slug, *slug, "{request}: {:?}", p.recommendations);
            let want: Map<String, Value> = inputs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            assert_eq!(plan.inputs, want, "{request}");
            assert_eq!(plan.missing, *missing, "{request}");
            assert!(p.recommendations.len() <= MAX_RECOMMENDATIONS);
        }
    }

    #[test]
    fn demo_examples_are_not_in_the_quality_set() {
        let requests = eval::load(eval::REQUESTS).unwrap();
        let norm = |s: &str| flatten_text(s).trim().to_string();
        for tenant in ["acme", "globex"] {
            for c in eval::candidates(tenant) {
                for e in &c.examples {
                    assert!(
                        !requests.iter().any(|r| norm(&r.text) == norm(e)),
                        "{e:?} is both an example and a test request"
                    );
                }
            }
        }
    }

    #[test]
    fn quality_set_meets_its_targets() {
        let requests = eval::load(eval::REQUESTS).unwrap();
        assert!(requests.len() >= 70, "{} requests", requests.len());
        for r in &requests {
            assert!(
                eval::candidates(&r.tenant)
                    .iter()
                    .any(|c| c.slug == r.expect),
                "{r:?} expects a skill its tenant does not have"
            );
        }
        let outcome = eval::measure(&requests, eval::embedded);
        let all = &outcome.overall;
        assert!(
            all.top1_rate() >= 0.9 && all.top3_rate() >= 0.98,
            "top-1 {:.3}, top-3 {:.3}; misses: {:#?}",
            all.top1_rate(),
            all.top3_rate(),
            outcome.misses
        );
    }
}
