//! `/metrics` in the Prometheus text format, on every process whatever its role: what the code
//! counts as it goes (runs started and finished, their durations and queue waits, busy workers,
//! sign-in failures) and what is read at each scrape (the queue, the database pool, ready
//! sandboxes). Only the configured addresses may read it; others get 404, as if it did not
//! exist. Labels carry no tenant data.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use domain::Ctx;
use engine::Executors;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::client::{AddressRanges, Client, TrustedProxies};
use crate::config::Role;

/// Histogram buckets of every `_seconds` metric: from a trivial run's milliseconds to a long
/// run's minutes.
const SECONDS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// How long a scrape waits for the queue's numbers before it answers without them.
const QUEUE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Installs the process's recorder: from then on every `metrics::counter!` and the like of any
/// crate is kept for `/metrics`. Once per process, before the work starts.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)?
        .install_recorder()?)
}

/// What a scrape reads besides the recorder.
pub struct Scrape {
    pub handle: PrometheusHandle,
    pub ctx: Ctx,
    /// This process's sandboxes (roles that run executions).
    pub executors: Option<Arc<Executors>>,
    /// Who may read it, as the client's address is told by `proxies`.
    pub allow: AddressRanges,
    pub proxies: TrustedProxies,
}

/// `GET /metrics`, on any Host.
pub fn routes(scrape: Scrape, role: Role) -> Router {
    let role = match role {
        Role::Web => "web",
        Role::Worker => "worker",
        Role::All => "all",
    };
    metrics::gauge!("execgov_process_info", "role" => role).set(1.0);
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Arc::new(scrape))
}

async fn metrics(
    State(scrape): State<Arc<Scrape>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = Client::of(Some(peer.ip()), &headers, &scrape.proxies);
    if !client.ip.is_some_and(|ip| scrape.allow.contains(ip)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    scrape.observe().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
        .into_response()
}

impl Scrape {
    /// Sets the gauges that are read rather than counted.
    async fn observe(&self) {
        let pool = &self.ctx.pool;
        let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
        metrics::gauge!("execgov_db_pool_connections", "state" => "in_use").set(size - idle);
        metrics::gauge!("execgov_db_pool_connections", "state" => "idle").set(idle);
        metrics::gauge!("execgov_db_pool_max_connections")
            .set(f64::from(pool.options().get_max_connections()));
        if let Some(executors) = &self.executors {
            metrics::gauge!("execgov_sandboxes_ready").set(executors.sandboxes_ready() as f64);
        }
        let depth = tokio::time::timeout(QUEUE_READ_TIMEOUT, queue_depth(&self.ctx)).await;
        match depth {
            Ok(Ok(rows)) => {
                metrics::gauge!("execgov_database_up").set(1.0);
                for state in ["queued", "reserved", "running"] {
                    for runner in ["platform", "agent"] {
                        let n = rows
                            .iter()
                            .find(|(s, r, _)| s == state && r == runner)
                            .map_or(0, |(_, _, n)| *n);
                        metrics::gauge!("execgov_queue_executions", "state" => state, "runner" => runner)
                            .set(n as f64);
                    }
                }
            }
            Ok(Err(err)) => {
                tracing::debug!(%err, "metrics: the queue could not be read");
                metrics::gauge!("execgov_database_up").set(0.0);
            }
            Err(_) => metrics::gauge!("execgov_database_up").set(0.0),
        }
    }
}

/// Executions in the cross-tenant queue by state, and whether a platform worker or a local agent
/// is to run them.
async fn queue_depth(ctx: &Ctx) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT state, CASE WHEN agent_label IS NULL THEN 'platform' ELSE 'agent' END, count(*) \
         FROM public.execution_queue GROUP BY 1, 2",
    )
    .fetch_all(&ctx.pool)
    .await
}
