use super::*;
use crate::brain::eval;
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
            &[
                ("data", "orders.csv"),
                ("date_column", "created_at"),
                ("cutoff", "2023-01-01"),
            ],
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
            &[
                ("start", "2024-12-20"),
                ("end", "2025-01-03"),
                ("holidays", "2024-12-25, 2024-12-26"),
            ],
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
            &[
                ("lines", "lines.csv"),
                ("vat_rate", "19"),
                ("currency", "GBP"),
            ],
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
            &[
                ("source", "orders.json"),
                ("delimiter", "semicolon"),
                ("flatten", "false"),
            ],
            &[],
        ),
        (
            "acme",
            "remove duplicate rows by \"email\", ignoring case",
            &["contacts.csv"],
            "dedupe-rows",
            &[
                ("data", "contacts.csv"),
                ("key_columns", "email"),
                ("ignore_case", "true"),
            ],
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
            &[
                ("document", "speech.txt"),
                ("top_n", "25"),
                ("skip_common_words", "true"),
            ],
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
