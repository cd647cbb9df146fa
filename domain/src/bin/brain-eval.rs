//! The intelligent brain's bench: runs the quality set (`domain/brain-eval/requests.toml`, or the
//! file given as the first argument) through the embedded provider and a naive word-overlap
//! baseline over each tenant's seeded demo skills, and prints top-1 and top-3 accuracy side by
//! side, then the embedded provider's misses.
//!
//! `cargo run -p domain --bin brain-eval [requests.toml]`; with `--verbose` it also prints every
//! request's top three with their scores and reasons. It is a measurement: it exits 0 whether or
//! not the targets are met, and says which.

use std::process::ExitCode;

use domain::brain::embedded::Embedded;
use domain::brain::eval::{self, Outcome, Tally};

const TARGET_TOP1: f64 = 0.90;
const TARGET_TOP3: f64 = 0.98;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--verbose");
    let path = args.into_iter().find(|a| a != "--verbose");
    let (source, text) = match path {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => (path, text),
            Err(e) => {
                eprintln!("brain-eval: cannot read {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => (
            "domain/brain-eval/requests.toml (compiled in)".to_string(),
            eval::REQUESTS.to_string(),
        ),
    };
    let requests = match eval::load(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("brain-eval: {source}: {e}");
            return ExitCode::FAILURE;
        }
    };

    if verbose {
        for r in &requests {
            let pool = eval::candidates(&r.tenant);
            println!("[{}] {:?} (expect {})", r.tenant, r.text, r.expect);
            for rec in Embedded.rank(&r.text, &[], &pool).iter().take(3) {
                println!("    {:>6.2}  {:<16} {}", rec.score, rec.slug, rec.why);
            }
        }
        println!();
    }

    let embedded = eval::measure(&requests, eval::embedded);
    let baseline = eval::measure(&requests, eval::baseline);

    println!("Quality set: {source}, {} requests", requests.len());
    println!();
    println!(
        "{:<10} {:>5}  {:>16} {:>16}  {:>16} {:>16}",
        "tenant", "n", "embedded top-1", "embedded top-3", "baseline top-1", "baseline top-3"
    );
    let rows = embedded
        .per_tenant
        .iter()
        .map(|(tenant, e)| (tenant.as_str(), e, &baseline.per_tenant[tenant]))
        .chain([("overall", &embedded.overall, &baseline.overall)]);
    for (tenant, e, b) in rows {
        println!(
            "{:<10} {:>5}  {:>16} {:>16}  {:>16} {:>16}",
            tenant,
            e.total,
            rate(e.top1, e),
            rate(e.top3, e),
            rate(b.top1, b),
            rate(b.top3, b)
        );
    }
    println!();
    print_misses("embedded", &embedded);
    println!();
    println!(
        "Baseline: plain word overlap (no stemming, BM25, bigrams or synonyms); {} misses at top-1.",
        baseline.misses.len()
    );
    println!();
    let all = &embedded.overall;
    let met = all.top1_rate() >= TARGET_TOP1 && all.top3_rate() >= TARGET_TOP3;
    println!(
        "Target (top-1 >= {:.0}%, top-3 >= {:.0}%): {} (top-1 {:.1}%, top-3 {:.1}%)",
        TARGET_TOP1 * 100.0,
        TARGET_TOP3 * 100.0,
        if met { "met" } else { "MISSED" },
        all.top1_rate() * 100.0,
        all.top3_rate() * 100.0
    );
    ExitCode::SUCCESS
}

fn rate(hits: usize, tally: &Tally) -> String {
    format!(
        "{:.1}% ({hits}/{})",
        hits as f64 * 100.0 / tally.total.max(1) as f64,
        tally.total
    )
}

fn print_misses(name: &str, outcome: &Outcome) {
    if outcome.misses.is_empty() {
        println!("{name}: no misses at top-1.");
        return;
    }
    println!("{name}: misses at top-1 (expected → ranked):");
    for m in &outcome.misses {
        let ranked = if m.ranked.is_empty() {
            "(nothing recommended)".to_string()
        } else {
            m.ranked
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  [{}] {:?}: {} → {}",
            m.request.tenant, m.request.text, m.request.expect, ranked
        );
    }
}
