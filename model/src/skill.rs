//! Skills and their input schemas, as the browser and the server both see them.
//!
//! The same [`validate_inputs`] runs in the browser (instant feedback) and on the
//! server (the check that counts), so both always agree on what a form may hold.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How much harm a skill can do; high-risk skills wait for a person's confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 3] = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High];

    /// The name stored in the database and written in `skill.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<RiskLevel> {
        RiskLevel::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The kind of value an input holds; decides the form control and the JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    Number,
    Boolean,
    Enum,
    Date,
    File,
    /// Several files as one folder: a .zip unpacked, or files uploaded together.
    Folder,
}

impl InputType {
    pub const ALL: [InputType; 8] = [
        InputType::String,
        InputType::Integer,
        InputType::Number,
        InputType::Boolean,
        InputType::Enum,
        InputType::Date,
        InputType::File,
        InputType::Folder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::Enum => "enum",
            InputType::Date => "date",
            InputType::File => "file",
            InputType::Folder => "folder",
        }
    }

    /// Its value is uploaded (a file, or a folder of files), never typed.
    pub fn is_upload(self) -> bool {
        matches!(self, InputType::File | InputType::Folder)
    }

    pub fn parse(s: &str) -> Option<InputType> {
        InputType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One input of a skill. Deserialised through [`RawInputField`] so that `label`
/// can default to `name` and typos in a manifest are refused, not ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "RawInputField")]
pub struct InputField {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The allowed values of an `enum` field, in display order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Bounds of an `integer` or `number` field, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest `string` value, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Used when a non-required field is left empty; typed like the field's value.
    /// For a boolean it only pre-ticks the form's box: an absent boolean is `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// The wire and manifest form of [`InputField`], where optional keys may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInputField {
    name: String,
    label: Option<String>,
    #[serde(rename = "type")]
    kind: InputType,
    #[serde(default = "yes")]
    required: bool,
    description: Option<String>,
    #[serde(default)]
    choices: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    max_length: Option<usize>,
    default: Option<Value>,
}

fn yes() -> bool {
    true
}

impl From<RawInputField> for InputField {
    fn from(raw: RawInputField) -> InputField {
        let label = match raw.label {
            Some(l) if !l.trim().is_empty() => l,
            _ => raw.name.clone(),
        };
        InputField {
            name: raw.name,
            label,
            kind: raw.kind,
            required: raw.required,
            description: raw.description,
            choices: raw.choices,
            min: raw.min,
            max: raw.max,
            max_length: raw.max_length,
            default: raw.default,
        }
    }
}

/// A skill's inputs, in form order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InputSchema {
    #[serde(default)]
    pub fields: Vec<InputField>,
}

/// What is wrong with a schema, and where, so a manifest error can point at the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    /// Index of the offending field in [`InputSchema::fields`].
    pub index: usize,
    /// The key of that field the problem is about (`name`, `choices`, `default`, …).
    pub key: &'static str,
    pub message: String,
}

/// More inputs than this is a form nobody fills in; it is almost surely a mistake.
pub const MAX_INPUT_FIELDS: usize = 50;

/// The manifest's file name at the root of a script folder.
pub const MANIFEST_FILE: &str = "skill.toml";

/// Most modules a manifest's `preload` may list.
pub const MAX_PRELOAD: usize = 32;

/// A skill's slug as URLs and the CLI use it: `^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$`.
pub fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (2..=60).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// `"CSV summariser (v2)"` → `"csv-summariser-v2"`; may be invalid (too short) for odd names.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(60);
    slug.trim_end_matches('-').to_string()
}

impl InputSchema {
    /// The required fields a person still has to fill in `inputs`: not given (absent, or blank
    /// text) and without a default to fall back on. An absent boolean is simply false.
    pub fn missing(&self, inputs: &Map<String, Value>) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| {
                let given = inputs
                    .get(&f.name)
                    .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()));
                f.required && f.kind != InputType::Boolean && f.default.is_none() && !given
            })
            .map(|f| f.name.clone())
            .collect()
    }

    /// Schema sanity, checked when a manifest is loaded, so forms never break later.
    pub fn check(&self) -> Result<(), String> {
        match self.problem() {
            Some(p) => Err(p.message),
            None => Ok(()),
        }
    }

    /// The first problem of [`InputSchema::check`], with the field and key it concerns.
    pub fn problem(&self) -> Option<SchemaProblem> {
        let mut seen = BTreeSet::new();
        for (index, field) in self.fields.iter().enumerate() {
            let fail = |key, message: String| {
                Some(SchemaProblem {
                    index,
                    key,
                    message,
                })
            };
            if index >= MAX_INPUT_FIELDS {
                return fail(
                    "name",
                    format!("A skill may have at most {MAX_INPUT_FIELDS} inputs."),
                );
            }
            if !valid_field_name(&field.name) {
                return fail(
                    "name",
                    format!(
                        "Input name {:?} must start with a lower-case letter and use only a-z, 0-9 and '_' (at most 40 characters).",
                        field.name
                    ),
                );
            }
            if !seen.insert(field.name.as_str()) {
                return fail(
                    "name",
                    format!("Input name {:?} is used twice.", field.name),
                );
            }
            if let Err(m) = field.check() {
                return fail(m.0, format!("Input {:?}: {}", field.name, m.1));
            }
        }
        None
    }
}

/// `^[a-z][a-z0-9_]{0,39}$`, the names scripts see as JSON keys.
fn valid_field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

impl InputField {
    /// Per-field sanity; the error names the offending key.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let label_len = self.label.chars().count();
        if label_len > 80 || self.label.chars().any(char::is_control) {
            return Err((
                "label",
                "the label needs at most 80 characters and no control characters.".into(),
            ));
        }
        let numeric = matches!(self.kind, InputType::Integer | InputType::Number);
        if self.kind == InputType::Enum {
            if self.choices.is_empty() {
                return Err(("choices", "an enum needs at least one choice.".into()));
            }
            let mut seen = BTreeSet::new();
            for c in &self.choices {
                if c.trim().is_empty() || c.trim() != c {
                    return Err((
                        "choices",
                        "choices may not be blank or start or end with spaces.".into(),
                    ));
                }
                if !seen.insert(c) {
                    return Err(("choices", format!("choice {c:?} is listed twice.")));
                }
            }
        } else if !self.choices.is_empty() {
            return Err(("choices", "only enum inputs have choices.".into()));
        }
        if !numeric && (self.min.is_some() || self.max.is_some()) {
            let key = if self.min.is_some() { "min" } else { "max" };
            return Err((
                key,
                "only integer and number inputs have min and max.".into(),
            ));
        }
        for (key, bound) in [("min", self.min), ("max", self.max)] {
            if let Some(b) = bound {
                if !b.is_finite() || (self.kind == InputType::Integer && b.fract() != 0.0) {
                    return Err((
                        key,
                        format!("{key} must be a finite {}.", self.kind.as_str()),
                    ));
                }
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(("min", format!("min ({min}) is greater than max ({max}).")));
            }
        }
        match (self.kind, self.max_length) {
            (InputType::String, Some(0)) => {
                return Err(("max_length", "max_length must be at least 1.".into()));
            }
            (InputType::String, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(("max_length", "only string inputs have max_length.".into()));
            }
        }
        if let Some(default) = &self.default {
            if self.kind.is_upload() {
                return Err((
                    "default",
                    format!("{} inputs cannot have a default.", self.kind.as_str()),
                ));
            }
            if let Err(m) = self.check_default(default) {
                return Err(("default", format!("the default is not valid: {m}")));
            }
        }
        Ok(())
    }

    /// A default must be exactly what [`validate_inputs`] would produce for this field.
    fn check_default(&self, value: &Value) -> Result<(), String> {
        let text = match (self.kind, value) {
            (InputType::Boolean, Value::Bool(_)) => return Ok(()),
            (InputType::Boolean, _) => return Err("use true or false.".into()),
            (InputType::Integer, Value::Number(n)) if n.is_i64() => n.to_string(),
            (InputType::Integer, _) => return Err("use a whole number.".into()),
            (InputType::Number, Value::Number(n)) => n.to_string(),
            (InputType::Number, _) => return Err("use a number.".into()),
            (_, Value::String(s)) => s.clone(),
            _ => return Err("use a string.".into()),
        };
        if self.kind == InputType::String && text.trim() != text {
            return Err("remove the spaces around it.".into());
        }
        self.convert(&text).map(|_| ())
    }

    /// Turns one non-empty form string into this field's JSON value.
    fn convert(&self, text: &str) -> Result<Value, String> {
        match self.kind {
            InputType::String => {
                if let Some(max) = self.max_length {
                    if text.chars().count() > max {
                        return Err(format!("Use at most {max} characters."));
                    }
                }
                Ok(Value::String(text.to_string()))
            }
            InputType::Integer => {
                let n: i64 = text
                    .parse()
                    .map_err(|_| "Enter a whole number.".to_string())?;
                self.in_range(n as f64)?;
                Ok(Value::from(n))
            }
            InputType::Number => {
                let n: f64 = text
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| "Enter a number.".to_string())?;
                self.in_range(n)?;
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| "Enter a number.".to_string())
            }
            InputType::Boolean => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| "Choose yes or no.".to_string()),
            InputType::Enum => {
                if self.choices.iter().any(|c| c == text) {
                    Ok(Value::String(text.to_string()))
                } else {
                    Err(format!("Choose one of: {}.", self.choices.join(", ")))
                }
            }
            InputType::Date => parse_date(text).map(|d| Value::String(d.to_string())),
            InputType::File => Err("Upload a file.".into()),
            InputType::Folder => Err("Upload a folder.".into()),
        }
    }

    fn in_range(&self, n: f64) -> Result<(), String> {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) if n < lo || n > hi => {
                Err(format!("Enter a number between {lo} and {hi}."))
            }
            (Some(lo), None) if n < lo => Err(format!("Enter a number of at least {lo}.")),
            (None, Some(hi)) if n > hi => Err(format!("Enter a number of at most {hi}.")),
            _ => Ok(()),
        }
    }
}

/// Checkbox semantics: an HTML form sends "on" when ticked and nothing when not.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Some(true),
        "false" | "off" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

/// Strictly `YYYY-MM-DD` (chrono alone would also take `2026-2-3`), and a real day.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err("Enter a date as YYYY-MM-DD.".into());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text} is not a real date."))
}

/// What every surface answers for text holding a NUL character, which PostgreSQL cannot store.
pub const NUL_REFUSED: &str = "Text with a NUL character (\\0) is not accepted.";

/// Checks a submitted form against a schema and returns the typed inputs a script receives.
///
/// `form` holds the text fields as the browser sent them; `uploaded` maps each file (or
/// folder) field to the name the server stored the upload under, which the script finds at
/// `files/<stored name>` relative to its working directory. Errors map each bad field
/// (or unknown key) to one message for the person filling in the form.
pub fn validate_inputs(
    schema: &InputSchema,
    form: &BTreeMap<String, String>,
    uploaded: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut values = Map::new();
    let mut errors = BTreeMap::new();
    let known: BTreeMap<&str, &InputField> =
        schema.fields.iter().map(|f| (f.name.as_str(), f)).collect();

    for (key, text) in form {
        match known.get(key.as_str()) {
            None => {
                errors.insert(key.clone(), format!("Unknown field {key}."));
            }
            // PostgreSQL stores no NUL in text or JSON: refused here, once for every surface.
            Some(_) if text.contains('\0') => {
                errors.insert(key.clone(), NUL_REFUSED.into());
            }
            // A path or a name as text would be dropped (files only come as uploads): say so.
            Some(f) if f.kind == InputType::File && !text.trim().is_empty() => {
                errors.insert(
                    key.clone(),
                    "This input takes an uploaded file, not text: send the file itself \
                     (in the API, a multipart/form-data part named after the input)."
                        .into(),
                );
            }
            Some(f) if f.kind == InputType::Folder && !text.trim().is_empty() => {
                errors.insert(
                    key.clone(),
                    "This input takes an uploaded folder, not text: send a .zip of it or its \
                     files (in the API, multipart/form-data parts named after the input)."
                        .into(),
                );
            }
            Some(_) => {}
        }
    }
    for key in uploaded.keys() {
        match known.get(key.as_str()) {
            Some(f) if f.kind.is_upload() => {}
            Some(_) => {
                errors.insert(key.clone(), "This field does not take a file.".into());
            }
            None => {
                errors.insert(key.clone(), format!("Unknown field {key}."));
            }
        }
    }

    for field in &schema.fields {
        let name = &field.name;
        if errors.contains_key(name) {
            continue;
        }
        match field.kind {
            // A file's (or folder's) path is chosen by the server, never by what the form says.
            InputType::File | InputType::Folder => match uploaded.get(name) {
                Some(stored) if valid_stored_name(stored) => {
                    values.insert(name.clone(), Value::String(format!("files/{stored}")));
                }
                Some(_) => {
                    errors.insert(name.clone(), "The uploaded file name is not valid.".into());
                }
                None if field.required => {
                    errors.insert(name.clone(), "This field is required.".into());
                }
                None => {}
            },
            // An unticked checkbox sends nothing: absent is false, never "missing".
            InputType::Boolean => {
                let text = form.get(name).map(|s| s.trim()).unwrap_or("");
                match field.convert(text) {
                    Ok(v) => {
                        values.insert(name.clone(), v);
                    }
                    Err(m) => {
                        errors.insert(name.clone(), m);
                    }
                }
            }
            _ => {
                let text = form.get(name).map(|s| s.trim()).unwrap_or("");
                if text.is_empty() {
                    if field.required {
                        errors.insert(name.clone(), "This field is required.".into());
                    } else if let Some(default) = &field.default {
                        values.insert(name.clone(), default.clone());
                    }
                    continue;
                }
                match field.convert(text) {
                    Ok(v) => {
                        values.insert(name.clone(), v);
                    }
                    Err(m) => {
                        errors.insert(name.clone(), m);
                    }
                }
            }
        }
    }

    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// A stored upload name is one plain path segment, so `files/<name>` stays in `files/`.
fn valid_stored_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.contains(['/', '\\', '\0'])
}

/// How the UI shows a script's `result.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultView {
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Pretty-printed JSON.
    Json(String),
}

/// A non-empty list of objects becomes a table (columns in first-seen order over all
/// rows, so a key that only later rows have still shows); anything else is shown as JSON.
pub fn result_view(value: &Value) -> ResultView {
    let rows: Option<Vec<&Map<String, Value>>> = match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(Value::as_object).collect(),
        _ => None,
    };
    let Some(rows) = rows else {
        return ResultView::Json(
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
        );
    };
    let mut columns: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for row in &rows {
        for key in row.keys() {
            if seen.insert(key.as_str()) {
                columns.push(key.clone());
            }
        }
    }
    let rows = rows
        .iter()
        .map(|row| columns.iter().map(|c| cell(row.get(c))).collect())
        .collect();
    ResultView::Table { columns, rows }
}

/// Like [`result_view`] but from the `result.json` text, keeping each row's key order as
/// the script wrote it (a parsed [`Value`] sorts keys: the workspace's serde_json has no
/// `preserve_order`). Fails only when the text is not JSON.
pub fn result_view_from_str(text: &str) -> Result<ResultView, String> {
    if let Ok(rows) = serde_json::from_str::<Vec<OrderedObject>>(text) {
        if !rows.is_empty() {
            let mut columns: Vec<String> = Vec::new();
            let mut seen = BTreeSet::new();
            for row in &rows {
                for (key, _) in &row.0 {
                    if seen.insert(key.clone()) {
                        columns.push(key.clone());
                    }
                }
            }
            let rows = rows
                .into_iter()
                .map(|row| {
                    let mut cells: BTreeMap<String, Value> = row.0.into_iter().collect();
                    columns
                        .iter()
                        .map(|c| cell(cells.remove(c).as_ref()))
                        .collect()
                })
                .collect();
            return Ok(ResultView::Table { columns, rows });
        }
    }
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok(result_view(&value))
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A JSON object as its key/value pairs in written order (a later duplicate key wins).
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut pairs: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    match pairs.iter_mut().find(|(key, _)| *key == k) {
                        Some(pair) => pair.1 = v,
                        None => pairs.push((k, v)),
                    }
                }
                Ok(OrderedObject(pairs))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: InputType) -> InputField {
        InputField {
            name: name.into(),
            label: name.into(),
            kind,
            required: true,
            description: None,
            choices: vec![],
            min: None,
            max: None,
            max_length: None,
            default: None,
        }
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn one_error(schema: &InputSchema, pairs: &[(&str, &str)], key: &str) -> String {
        let errs = validate_inputs(schema, &form(pairs), &BTreeMap::new()).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[key].clone()
    }

    #[test]
    fn names_round_trip() {
        for r in RiskLevel::ALL {
            assert_eq!(RiskLevel::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
        for t in InputType::ALL {
            assert_eq!(InputType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(RiskLevel::parse("High"), None);
    }

    #[test]
    fn raw_fields_get_defaults_and_refuse_typos() {
        let f: InputField = serde_json::from_value(json!({"name": "n", "type": "string"})).unwrap();
        assert_eq!(f.label, "n");
        assert!(f.required);
        let back: InputField = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        let typo = serde_json::from_value::<InputField>(
            json!({"name": "n", "type": "string", "requried": false}),
        );
        assert!(typo.unwrap_err().to_string().contains("requried"));
    }

    #[test]
    fn typed_values_come_out() {
        let mut limit = field("limit", InputType::Integer);
        limit.min = Some(1.0);
        limit.max = Some(100.0);
        let mut mode = field("mode", InputType::Enum);
        mode.choices = vec!["fast".into(), "slow".into()];
        let schema = InputSchema {
            fields: vec![
                field("title", InputType::String),
                limit,
                field("ratio", InputType::Number),
                field("dry_run", InputType::Boolean),
                mode,
                field("since", InputType::Date),
                field("data", InputType::File),
            ],
        };
        let uploaded = form(&[("data", "1234-sales.csv")]);
        let got = validate_inputs(
            &schema,
            &form(&[
                ("title", "  Weekly  "),
                ("limit", "42"),
                ("ratio", "0.5"),
                ("dry_run", "on"),
                ("mode", "slow"),
                ("since", "2026-02-28"),
            ]),
            &uploaded,
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({
                "title": "Weekly", "limit": 42, "ratio": 0.5, "dry_run": true,
                "mode": "slow", "since": "2026-02-28", "data": "files/1234-sales.csv"
            })
        );
    }

    #[test]
    fn bad_values_get_one_message_each() {
        let mut s = field("s", InputType::String);
        s.max_length = Some(3);
        let schema = InputSchema { fields: vec![s] };
        assert_eq!(
            one_error(&schema, &[("s", "abcd")], "s"),
            "Use at most 3 characters."
        );
        // Trimmed before the length check; counted in characters, not bytes.
        assert!(validate_inputs(&schema, &form(&[("s", " éé ")]), &BTreeMap::new()).is_ok());

        let mut i = field("i", InputType::Integer);
        i.min = Some(1.0);
        i.max = Some(10.0);
        let schema = InputSchema { fields: vec![i] };
        assert_eq!(
            one_error(&schema, &[("i", "1.5")], "i"),
            "Enter a whole number."
        );
        assert_eq!(
            one_error(&schema, &[("i", "ten")], "i"),
            "Enter a whole number."
        );
        assert_eq!(
            one_error(&schema, &[("i", "11")], "i"),
            "Enter a number between 1 and 10."
        );

        let mut n = field("n", InputType::Number);
        n.min = Some(0.5);
        let schema = InputSchema { fields: vec![n] };
        assert_eq!(one_error(&schema, &[("n", "NaN")], "n"), "Enter a number.");
        assert_eq!(one_error(&schema, &[("n", "inf")], "n"), "Enter a number.");
        assert_eq!(
            one_error(&schema, &[("n", "0.25")], "n"),
            "Enter a number of at least 0.5."
        );

        let schema = InputSchema {
            fields: vec![field("b", InputType::Boolean)],
        };
        assert_eq!(
            one_error(&schema, &[("b", "maybe")], "b"),
            "Choose yes or no."
        );

        let mut e = field("e", InputType::Enum);
        e.choices = vec!["a".into(), "b".into()];
        let schema = InputSchema { fields: vec![e] };
        assert_eq!(
            one_error(&schema, &[("e", "c")], "e"),
            "Choose one of: a, b."
        );

        let schema = InputSchema {
            fields: vec![field("d", InputType::Date)],
        };
        assert_eq!(
            one_error(&schema, &[("d", "2026-02-30")], "d"),
            "2026-02-30 is not a real date."
        );
        assert_eq!(
            one_error(&schema, &[("d", "2026-2-3")], "d"),
            "Enter a date as YYYY-MM-DD."
        );
        assert_eq!(
            one_error(&schema, &[("d", "03/02/2026")], "d"),
            "Enter a date as YYYY-MM-DD."
        );

        let schema = InputSchema {
            fields: vec![field("f", InputType::File)],
        };
        let bad = validate_inputs(&schema, &BTreeMap::new(), &form(&[("f", "../x")]));
        assert_eq!(
            bad.unwrap_err()["f"],
            "The uploaded file name is not valid."
        );
    }

    #[test]
    fn missing_and_unknown_fields() {
        let schema = InputSchema {
            fields: vec![
                field("title", InputType::String),
                field("data", InputType::File),
            ],
        };
        let errs = validate_inputs(
            &schema,
            &form(&[("title", "   "), ("admin", "1")]),
            &form(&[("other", "x.csv")]),
        )
        .unwrap_err();
        assert_eq!(errs["title"], "This field is required.");
        assert_eq!(errs["data"], "This field is required.");
        assert_eq!(errs["admin"], "Unknown field admin.");
        assert_eq!(errs["other"], "Unknown field other.");
        assert_eq!(errs.len(), 4);

        let errs = validate_inputs(&schema, &form(&[("title", "x")]), &form(&[("title", "a")]))
            .unwrap_err();
        assert_eq!(errs["title"], "This field does not take a file.");
    }

    #[test]
    fn nul_characters_and_file_paths_as_text_are_refused() {
        let mut file = field("data", InputType::File);
        file.required = false;
        let schema = InputSchema {
            fields: vec![
                field("title", InputType::String),
                field("when", InputType::Date),
                file,
            ],
        };
        // PostgreSQL cannot store a NUL in JSON text: refused before anything is stored.
        for key in ["title", "when"] {
            let mut pairs = vec![("title", "ok"), ("when", "2026-01-02")];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, "a\0b"));
            assert_eq!(one_error(&schema, &pairs, key), NUL_REFUSED);
        }
        // A path given as text for a file input would be dropped without a word.
        assert_eq!(
            one_error(
                &schema,
                &[
                    ("title", "ok"),
                    ("when", "2026-01-02"),
                    ("data", "/etc/passwd")
                ],
                "data"
            ),
            "This input takes an uploaded file, not text: send the file itself \
             (in the API, a multipart/form-data part named after the input)."
        );
        // Left empty, as a browser sends an optional file input nobody filled: fine.
        let ok = validate_inputs(
            &schema,
            &form(&[("title", "ok"), ("when", "2026-01-02"), ("data", "")]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(!ok.contains_key("data"));
    }

    #[test]
    fn defaults_fill_only_empty_optional_fields() {
        let mut top = field("top", InputType::Integer);
        top.required = false;
        top.default = Some(json!(10));
        let mut note = field("note", InputType::String);
        note.required = false;
        let mut file = field("extra", InputType::File);
        file.required = false;
        let schema = InputSchema {
            fields: vec![top, note, file],
        };
        assert!(schema.check().is_ok());
        let got = validate_inputs(&schema, &form(&[("top", " ")]), &BTreeMap::new()).unwrap();
        assert_eq!(Value::Object(got), json!({"top": 10}));
        let got = validate_inputs(&schema, &form(&[("top", "3")]), &BTreeMap::new()).unwrap();
        assert_eq!(Value::Object(got), json!({"top": 3}));
    }

    #[test]
    fn booleans_are_never_missing() {
        let mut flag = field("flag", InputType::Boolean);
        flag.required = true;
        let schema = InputSchema { fields: vec![flag] };
        for (text, want) in [
            ("true", true),
            ("on", true),
            ("1", true),
            ("false", false),
            ("", false),
        ] {
            let got = validate_inputs(&schema, &form(&[("flag", text)]), &BTreeMap::new()).unwrap();
            assert_eq!(got["flag"], json!(want), "{text:?}");
        }
        let got = validate_inputs(&schema, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        assert_eq!(got["flag"], json!(false));
    }

    #[test]
    fn folders_are_uploads_too() {
        let mut photos = field("photos", InputType::Folder);
        photos.required = false;
        let schema = InputSchema {
            fields: vec![photos, field("title", InputType::String)],
        };
        let got = validate_inputs(
            &schema,
            &form(&[("title", "x")]),
            &form(&[("photos", "photos")]),
        )
        .unwrap();
        assert_eq!(got["photos"], json!("files/photos"));
        assert!(
            one_error(&schema, &[("title", "x"), ("photos", "/etc")], "photos")
                .starts_with("This input takes an uploaded folder")
        );
        let errs = validate_inputs(&schema, &form(&[("title", "x")]), &form(&[("title", "a")]))
            .unwrap_err();
        assert_eq!(errs["title"], "This field does not take a file.");
        let mut with_default = field("photos", InputType::Folder);
        with_default.default = Some(json!("x"));
        assert_eq!(
            InputSchema {
                fields: vec![with_default]
            }
            .problem()
            .map(|p| p.key),
            Some("default")
        );
    }

    #[test]
    fn schema_check_catches_mistakes() {
        let problem = |fields: Vec<InputField>| {
            let p = InputSchema { fields }.problem().expect("a problem");
            (p.index, p.key)
        };
        assert_eq!(problem(vec![field("Bad", InputType::String)]), (0, "name"));
        assert_eq!(problem(vec![field("9x", InputType::String)]), (0, "name"));
        assert_eq!(
            problem(vec![field(&"a".repeat(41), InputType::String)]),
            (0, "name")
        );
        assert_eq!(
            problem(vec![
                field("a", InputType::String),
                field("a", InputType::Date)
            ]),
            (1, "name")
        );
        assert_eq!(problem(vec![field("e", InputType::Enum)]), (0, "choices"));

        let mut dup = field("e", InputType::Enum);
        dup.choices = vec!["x".into(), "x".into()];
        assert_eq!(problem(vec![dup]), (0, "choices"));

        let mut range = field("n", InputType::Number);
        range.min = Some(5.0);
        range.max = Some(1.0);
        assert_eq!(problem(vec![range]), (0, "min"));

        let mut stray = field("s", InputType::String);
        stray.min = Some(1.0);
        assert_eq!(problem(vec![stray]), (0, "min"));

        let mut bad_default = field("i", InputType::Integer);
        bad_default.max = Some(5.0);
        bad_default.default = Some(json!(6));
        assert_eq!(problem(vec![bad_default]), (0, "default"));

        let mut bad_date = field("d", InputType::Date);
        bad_date.default = Some(json!("2026-02-30"));
        assert_eq!(problem(vec![bad_date]), (0, "default"));

        let mut bad_enum = field("e", InputType::Enum);
        bad_enum.choices = vec!["a".into()];
        bad_enum.default = Some(json!("b"));
        assert_eq!(problem(vec![bad_enum]), (0, "default"));

        let mut file_default = field("f", InputType::File);
        file_default.default = Some(json!("x"));
        assert_eq!(problem(vec![file_default]), (0, "default"));

        let mut ok = field("when", InputType::Date);
        ok.default = Some(json!("2026-01-31"));
        assert!(InputSchema { fields: vec![ok] }.check().is_ok());
    }

    #[test]
    fn lists_of_objects_become_tables() {
        let text = r#"[
            {"name": "a", "count": 1},
            {"count": 2, "extra": {"x": true}, "name": "b"},
            {"name": null}
        ]"#;
        assert_eq!(
            result_view_from_str(text).unwrap(),
            ResultView::Table {
                columns: vec!["name".into(), "count".into(), "extra".into()],
                rows: vec![
                    vec!["a".into(), "1".into(), "".into()],
                    vec!["b".into(), "2".into(), r#"{"x":true}"#.into()],
                    vec!["null".into(), "".into(), "".into()],
                ],
            }
        );
    }

    #[test]
    fn parsed_values_give_the_same_table_up_to_key_order() {
        let v = json!([{"b": 1, "a": "x"}, {"c": [1, 2]}]);
        let ResultView::Table { columns, rows } = result_view(&v) else {
            panic!("a table")
        };
        assert_eq!(columns, ["a", "b", "c"]);
        assert_eq!(rows, [["x", "1", ""], ["", "", "[1,2]"]]);
        assert_eq!(
            result_view_from_str(&v.to_string()).unwrap(),
            result_view(&v)
        );
        assert!(result_view_from_str("{oops").is_err());
    }

    #[test]
    fn everything_else_is_pretty_json() {
        for v in [
            json!([]),
            json!([1, 2]),
            json!([{"a": 1}, 2]),
            json!({"a": 1}),
            json!("x"),
        ] {
            let pretty = ResultView::Json(serde_json::to_string_pretty(&v).unwrap());
            assert_eq!(result_view(&v), pretty);
            assert_eq!(result_view_from_str(&v.to_string()).unwrap(), pretty);
        }
    }

    #[test]
    fn slugs_are_derived_and_checked() {
        assert_eq!(slugify("CSV summariser (v2)"), "csv-summariser-v2");
        assert_eq!(slugify("  --Hello, World!--"), "hello-world");
        assert_eq!(slugify("日本語"), "");
        assert_eq!(slugify(&"ab ".repeat(40)).len(), 59);
        assert!(valid_slug("csv-summary"));
        for bad in ["a", "-ab", "ab-", "Ab", "a_b", &"a".repeat(61)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn missing_means_required_without_a_value_or_default() {
        let schema: InputSchema = serde_json::from_value(serde_json::json!({"fields": [
            {"name": "data", "type": "file", "required": true},
            {"name": "top", "type": "integer", "required": true, "default": 10},
            {"name": "verbose", "type": "boolean", "required": true},
            {"name": "title", "type": "string", "required": true},
            {"name": "note", "type": "string", "required": false},
        ]}))
        .unwrap();
        let given = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            schema.missing(&given(serde_json::json!({}))),
            ["data", "title"]
        );
        let blank = given(serde_json::json!({"data": "a.csv", "title": "  "}));
        assert_eq!(schema.missing(&blank), ["title"]);
        let all = given(serde_json::json!({"data": "a.csv", "title": "Q3"}));
        assert!(schema.missing(&all).is_empty());
    }
}
