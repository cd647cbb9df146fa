//! Tenant schemas must be able to move to Citus workers (schema-based sharding). Citus refuses a
//! constraint without a name added to an existing table (`ALTER TABLE … ADD COLUMN c int CHECK
//! (…)`, `ALTER TABLE … ADD CHECK (…)`), so every constraint a tenant migration adds with
//! `ALTER TABLE` is named. Constraints inside `CREATE TABLE` exist before Citus distributes the
//! table and may keep PostgreSQL's generated names.

use std::path::Path;

/// The constraints in `sql`'s `ALTER TABLE` statements that have no `CONSTRAINT name`, as text.
fn unnamed_constraints_added_to_tables(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut unnamed = Vec::new();
    for statement in without_comments.split(';') {
        let words = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        if !words.to_uppercase().starts_with("ALTER TABLE") {
            continue;
        }
        for action in top_level_parts(&words) {
            let upper = action.to_uppercase();
            if !upper.contains(" ADD ") && !upper.starts_with("ADD ") {
                continue;
            }
            let shallow = at_depth_zero(&upper);
            let kinds = ["CHECK", "UNIQUE", "REFERENCES", "PRIMARY KEY", "EXCLUDE"]
                .iter()
                .map(|kind| count_words(&shallow, kind))
                .sum::<usize>();
            if kinds > count_words(&shallow, "CONSTRAINT") {
                unnamed.push(action.trim().to_string());
            }
        }
    }
    unnamed
}

/// Splits an `ALTER TABLE` statement at the commas between its actions.
fn top_level_parts(statement: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in statement.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&statement[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&statement[start..]);
    parts
}

/// The text outside parentheses, so `CHECK (a IN ('UNIQUE'))` counts one constraint.
fn at_depth_zero(text: &str) -> String {
    let mut depth = 0;
    text.chars()
        .map(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 && c != ')' {
                c
            } else {
                ' '
            }
        })
        .collect()
}

fn count_words(text: &str, phrase: &str) -> usize {
    let words: Vec<&str> = text.split_whitespace().collect();
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(wanted.len())
        .filter(|w| *w == wanted.as_slice())
        .count()
}

#[test]
fn the_rule_sees_unnamed_constraints_and_accepts_named_ones() {
    let refused = "ALTER TABLE t ADD COLUMN a int CHECK (a > 0), ADD COLUMN b text;\n\
                   ALTER TABLE t ADD CHECK ((a IS NULL) = (b IS NULL));\n\
                   ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (id);\n\
                   ALTER TABLE t ADD COLUMN c int CONSTRAINT t_c_check CHECK (c > 0) UNIQUE;";
    assert_eq!(unnamed_constraints_added_to_tables(refused).len(), 4);
    let accepted = "-- ALTER TABLE t ADD CHECK (a > 0) in a comment\n\
                    CREATE TABLE t (a int CHECK (a > 0) UNIQUE);\n\
                    ALTER TABLE t ADD COLUMN b text CONSTRAINT t_b_check CHECK (b IN ('UNIQUE')),\n\
                        ALTER COLUMN a DROP NOT NULL,\n\
                        ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES u (id),\n\
                        DROP CONSTRAINT t_old;";
    assert_eq!(
        unnamed_constraints_added_to_tables(accepted),
        Vec::<String>::new()
    );
}

#[test]
fn tenant_migrations_name_every_constraint_they_add_to_a_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/tenant");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            let sql = std::fs::read_to_string(&path).unwrap();
            let unnamed = unnamed_constraints_added_to_tables(&sql);
            assert!(
                unnamed.is_empty(),
                "{}: name these constraints (ADD CONSTRAINT <table>_<what> …): {unnamed:#?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} tenant migrations found");
}
