//! Whether the database answers, watched twice a second over a connection of its own (not the
//! pool's, which a burst of requests may hold), so that while it does not every request is
//! answered 503 with `Retry-After` at once, instead of each waiting for the pool's timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::error::{DatabaseUnreachable, DATABASE_UNAVAILABLE};
use domain::AppError;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{watch, Notify};

/// How often the database is asked while it answers, and again while it does not.
const EVERY_WHILE_UP: Duration = Duration::from_millis(500);
const EVERY_WHILE_DOWN: Duration = Duration::from_millis(250);
/// A connection or a `SELECT 1` that takes longer than this counts as no answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared "database reachable" flag.
pub struct DbWatch {
    up: watch::Sender<bool>,
    /// Wakes the watcher to look at once (a request found the database unreachable).
    look: Notify,
}

impl DbWatch {
    /// Starts watching the database `options` connect to; reachable until a ping fails.
    pub fn start(options: PgConnectOptions) -> Arc<DbWatch> {
        let watch = Arc::new(DbWatch {
            up: watch::Sender::new(true),
            look: Notify::new(),
        });
        tokio::spawn(watch.clone().run(options));
        watch
    }

    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Sets the flag; true if it changed.
    fn set(&self, up: bool) -> bool {
        self.up
            .send_if_modified(|was| std::mem::replace(was, up) != up)
    }

    /// Resolves once the database is found unreachable (at once if it is now).
    async fn down(&self) {
        let mut flag = self.up.subscribe();
        let _ = flag.wait_for(|up| !*up).await;
    }

    async fn run(self: Arc<Self>, options: PgConnectOptions) {
        let mut conn = None;
        let mut was_up = true;
        loop {
            let up = ping(&mut conn, &options).await;
            self.set(up);
            match (was_up, up) {
                (true, false) => tracing::error!(
                    "the database is unreachable: requests are answered 503 until it is back"
                ),
                (false, true) => tracing::info!("the database is reachable again"),
                _ => {}
            }
            was_up = up;
            let pause = if up { EVERY_WHILE_UP } else { EVERY_WHILE_DOWN };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.look.notified() => {}
            }
        }
    }
}

/// One `SELECT 1`, connecting first if needed; a connection that failed is dropped.
async fn ping(conn: &mut Option<PgConnection>, options: &PgConnectOptions) -> bool {
    let answered = tokio::time::timeout(PING_TIMEOUT, async {
        if conn.is_none() {
            *conn = Some(PgConnection::connect_with(options).await?);
        }
        let c = conn.as_mut().expect("connected above");
        sqlx::query("SELECT 1").execute(c).await.map(|_| ())
    })
    .await;
    let up = matches!(answered, Ok(Ok(())));
    if !up {
        *conn = None;
    }
    up
}

/// Answers 503 at once while the database is unreachable: problem details on the REST API, a
/// plain page elsewhere (pages, server functions and `/healthz` all need the database).
/// Requests under way when it goes (waiting for a connection the pool keeps retrying) are
/// answered so too, at that moment. A response that failed on an unreachable database says so
/// (see [`DatabaseUnreachable`]), which turns the switch for the next requests at once.
pub async fn fail_fast(State(watch): State<Arc<DbWatch>>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/v1/");
    if watch.is_up() {
        tokio::select! {
            response = next.run(req) => {
                if response.extensions().get::<DatabaseUnreachable>().is_some() && watch.set(false) {
                    watch.look.notify_one();
                }
                return response;
            }
            _ = watch.down() => {}
        }
    }
    let err = AppError::Unavailable(DATABASE_UNAVAILABLE.into());
    if api {
        return crate::api::ApiError::from(err).into_response();
    }
    let mut response = crate::plain_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        DATABASE_UNAVAILABLE,
    );
    err.mark_response(&mut response);
    response
}
