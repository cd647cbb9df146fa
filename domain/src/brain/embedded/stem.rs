//! Stemming: the five steps of Porter's suffix stripper, preceded by British → American spelling
//! (summarise → summarize) and followed by dropping a final y-made "i" (summary → summar), so the
//! noun and the verb of our skill texts meet.

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

pub(super) fn americanize(word: &str) -> String {
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

pub(super) fn is_consonant(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !is_consonant(w, i - 1),
        _ => true,
    }
}

/// Porter's m: the number of vowel-consonant sequences in the stem.
pub(super) fn measure(w: &[u8]) -> usize {
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

pub(super) fn has_vowel(w: &[u8]) -> bool {
    (0..w.len()).any(|i| !is_consonant(w, i))
}

pub(super) fn double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Consonant-vowel-consonant at the end, the last not w, x or y ("hop", not "snow").
pub(super) fn cvc(w: &[u8]) -> bool {
    let n = w.len();
    n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y')
}

pub(super) fn step1a(w: &mut Vec<u8>) {
    if w.ends_with(b"sses") || w.ends_with(b"ies") {
        w.truncate(w.len() - 2);
    } else if w.ends_with(b"s") && !w.ends_with(b"ss") && !w.ends_with(b"us") && w.len() > 3 {
        w.pop();
    }
}

pub(super) fn step1b(w: &mut Vec<u8>) {
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

pub(super) fn step1c(w: &mut [u8]) {
    let n = w.len();
    if n > 2 && w[n - 1] == b'y' && has_vowel(&w[..n - 1]) {
        w[n - 1] = b'i';
    }
}

pub(super) const STEP2: &[(&str, &str)] = &[
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

pub(super) const STEP3: &[(&str, &str)] = &[
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
];

/// Replaces the longest matching suffix when the stem before it has a measure above `min_m`.
pub(super) fn replace_longest(w: &mut Vec<u8>, rules: &[(&str, &str)], min_m: usize) {
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

pub(super) fn step4(w: &mut Vec<u8>) {
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

pub(super) fn step5(w: &mut Vec<u8>) {
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
