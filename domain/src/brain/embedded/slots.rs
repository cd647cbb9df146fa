//! Slot filling: the plan's inputs from the request's own words, as the form would send them.

use super::*;

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

    let missing = schema.missing(&inputs);
    (inputs, missing)
}

/// The stems a field is known by: its label's and its name's words.
pub(super) fn field_keys(field: &InputField) -> BTreeSet<String> {
    tokenize(&format!("{} {}", field.label, field.name.replace('_', " ")))
        .into_iter()
        .filter(|t| t.kind == TermKind::Word)
        .map(|t| t.text)
        .collect()
}

/// The words that announce a value for this kind of field ("from …", "before …", "top …").
pub(super) fn cue_words(field: &InputField) -> BTreeSet<String> {
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

pub(super) fn extension(file_name: &str) -> String {
    file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The attachment for a file field: one the request names, else one whose extension fits what
/// the field asks for (a CSV, a log, a JSON file), else the first one left.
pub(super) fn pick_attachment(
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
pub(super) enum PieceKind {
    Num,
    Word,
    Cjk,
    Punct,
}

/// A piece of the request for slot filling: a digit run, a letter run, one CJK character or one
/// punctuation character; `token` counts the words before it, for "near" tests.
#[derive(Clone, Debug)]
pub(super) struct Piece {
    pub(super) kind: PieceKind,
    pub(super) text: String,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) space_before: bool,
    pub(super) token: usize,
}

pub(super) struct Found<T> {
    pub(super) value: T,
    pub(super) start: usize,
    /// Word positions covered, for nearness.
    pub(super) first_token: usize,
    pub(super) last_token: usize,
}

pub(super) struct Number {
    pub(super) text: String,
    pub(super) value: f64,
    pub(super) whole: bool,
    pub(super) percent: bool,
    /// The word right after it ("5 days"), for units.
    pub(super) unit: Option<String>,
}

pub(super) struct Quote {
    pub(super) text: String,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Word position just before the opening mark.
    pub(super) token: usize,
}

pub(super) struct Scanned {
    pub(super) pieces: Vec<Piece>,
    /// Stems of the words, by word position.
    pub(super) stems: Vec<String>,
    pub(super) quotes: Vec<Quote>,
    pub(super) dates: Vec<Found<NaiveDate>>,
    pub(super) numbers: Vec<Found<Number>>,
}

pub(super) const MONTHS: &[&str] = &[
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

pub(super) fn month_number(word: &str) -> Option<u32> {
    // Full names, and abbreviations of three or four letters ("jan", "sept").
    let short = (3..=4).contains(&word.len());
    MONTHS
        .iter()
        .position(|m| *m == word || short && m.starts_with(word))
        .map(|i| i as u32 + 1)
}

pub(super) const NEGATIONS: &[&str] = &[
    "not", "no", "dont", "doesnt", "without", "never", "不", "别", "无", "不要",
];
pub(super) const TIME_UNITS: &[&str] = &[
    "second", "minute", "hour", "day", "week", "month", "year", "天", "日", "周", "月", "年",
    "小时",
];

impl Scanned {
    pub(super) fn new(text: &str) -> Scanned {
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
    pub(super) fn near(
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
    pub(super) fn quote_near(
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
    pub(super) fn choice(&self, field: &InputField) -> Option<String> {
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
    pub(super) fn boolean(&self, field: &InputField) -> Option<String> {
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
    pub(super) fn date_for(
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
    pub(super) fn number_for(
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

pub(super) fn pieces(text: &str) -> Vec<Piece> {
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
pub(super) fn quotes(text: &str, pieces: &[Piece]) -> Vec<Quote> {
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
pub(super) fn dates(p: &[Piece]) -> Vec<Found<NaiveDate>> {
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
pub(super) fn numbers(p: &[Piece], dates: &[Found<NaiveDate>]) -> Vec<Found<Number>> {
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
