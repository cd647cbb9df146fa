//! Bridges between the request's wording and the skills' wording.

use super::*;

/// English words that mean the same thing for our purposes; a request word finds the others at
/// a discount, so a skill using the request's own word still ranks first.
pub(super) const SYNONYMS: &[&str] = &[
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
pub(super) const PHRASES: &[(&str, &str)] = &[
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
pub(super) const GENERIC: &[&str] = &[
    "file", "data", "run", "use", "result", "output", "input", "upload", "download", "show",
    "list", "make", "help", "new", "check", "report",
];

/// Query weights: a request's own word counts fully; what we infer from it counts less.
pub(super) const W_WORD: f64 = 1.0;
pub(super) const W_CJK_UNIGRAM: f64 = 0.4;
pub(super) const W_SPLIT: f64 = 0.9;
pub(super) const W_GLOSSARY: f64 = 0.8;
pub(super) const W_TYPO: f64 = 0.7;
pub(super) const W_RELATED: f64 = 0.6;
pub(super) const W_PHRASE: f64 = 0.5;
pub(super) const W_SYNONYM: f64 = 0.5;
pub(super) const W_ATTACHMENT: f64 = 0.3;

pub(super) struct Lexicon {
    pub(super) synonyms: HashMap<String, Vec<String>>,
    pub(super) phrases: Vec<(String, Vec<String>, f64)>,
    pub(super) generic: BTreeSet<String>,
}

pub(super) static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
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
pub(super) fn edit_distance(a: &str, b: &str, max: usize) -> usize {
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
pub(super) fn related(a: &str, b: &str) -> bool {
    if a == b || !a.is_ascii() || !b.is_ascii() {
        return false;
    }
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    common >= 5 && common + 2 >= a.len().max(b.len())
}
