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

mod index;
mod lexicon;
mod query;
mod slots;
mod stem;
#[cfg(test)]
mod tests;
mod text;

use index::*;
use lexicon::*;
use query::*;
pub use slots::fill_inputs;
use stem::*;
use text::*;

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
