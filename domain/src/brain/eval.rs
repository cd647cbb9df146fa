//! The quality set and its bench: `brain-eval/requests.toml`, measured by `src/bin/brain-eval.rs`
//! and by a test of the embedded provider.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::embedded::{candidate_from_folder, Embedded};
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
