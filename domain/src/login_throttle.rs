//! Sign-in throttling that an attacker cannot turn against the account's owner, and bounded
//! password hashing.
//!
//! - Per (user, address): a few free failures, then each further attempt waits a growing delay
//!   (15 s, 30 s, 1 min, … up to 15 min). Only the guesser's own address is held back.
//! - Per address, across user names: past a bound, that address is refused (password spraying).
//! - Per user, across addresses: past a much higher bound, attempts are slowed (a short wait before
//!   the check) but never refused, so a botnet cannot lock the owner out.
//!
//! An attempt is counted before its password is checked, by one atomic upsert, so a burst of
//! concurrent attempts cannot all pass under the bound; a success clears its pair's count.
//! Argon2 runs under a semaphore and outside any transaction, so a burst of sign-ins queues for
//! the CPU without holding database connections.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::{AppError, AppResult, Ctx};

/// Failures of one user name from one address before delays begin.
const FREE_FAILURES: i32 = 5;
/// The first delay; each further failure doubles it, up to `MAX_DELAY_SECONDS`.
const FIRST_DELAY_SECONDS: i32 = 15;
const MAX_DELAY_SECONDS: i32 = 15 * 60;
/// A pair (or address, or user) with no failure for this long starts afresh.
const WINDOW_MINUTES: i32 = 60;
/// Failures from one address across all user names within the window before it is refused.
const MAX_FAILURES_PER_ADDRESS: i64 = 50;
/// Failures of one user name across all addresses within the window before attempts are slowed:
/// one more second of wait per this many, up to `MAX_USER_SLOWDOWN`.
const USER_SLOWDOWN_STEP: i64 = 100;
const MAX_USER_SLOWDOWN: Duration = Duration::from_secs(10);

/// At most this many argon2 computations at once (one per core): the rest wait their turn.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Semaphore::new(cores.clamp(1, 8))
});

/// Runs an argon2 computation on the blocking pool once a hashing slot is free.
pub(crate) async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    let _slot = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
}

/// Whom an attempt is counted against: realm key, lower-cased user name, address ('' unknown).
pub(crate) struct Attempt<'a> {
    pub realm: &'a str,
    pub username: String,
    pub ip: &'a str,
}

impl<'a> Attempt<'a> {
    pub fn new(realm: &'a str, username: &str, ip: Option<&'a str>) -> Attempt<'a> {
        Attempt {
            realm,
            username: username.to_lowercase(),
            ip: ip.unwrap_or(""),
        }
    }
}

/// The delay in seconds owed after `failures` failures of a pair (SQL, `f` an integer column).
fn delay_sql(f: &str) -> String {
    format!(
        "CASE WHEN {f} < {FREE_FAILURES} THEN 0 \
         ELSE least({FIRST_DELAY_SECONDS} * power(2, least({f} - {FREE_FAILURES}, 20)), {MAX_DELAY_SECONDS}) END"
    )
}

/// Counts `attempt` before its password is checked. `Ok(wait)`: go ahead after waiting `wait`
/// (the per-user slowdown); `Err(refusal)`: refused (429, saying when to try again), and not
/// counted.
pub(crate) async fn admit(
    ctx: &Ctx,
    attempt: &Attempt<'_>,
) -> AppResult<Result<Duration, AppError>> {
    let (by_user, by_address): (i64, i64) = sqlx::query_as(&format!(
        "SELECT coalesce(sum(failures) FILTER (WHERE username = $2), 0)::bigint, \
                coalesce(sum(failures) FILTER (WHERE $3 <> '' AND ip = $3), 0)::bigint \
         FROM public.login_throttle \
         WHERE realm = $1 AND (username = $2 OR ip = $3) \
           AND last_at > now() - make_interval(mins => {WINDOW_MINUTES})"
    ))
    .bind(attempt.realm)
    .bind(&attempt.username)
    .bind(attempt.ip)
    .fetch_one(&ctx.pool)
    .await?;
    if by_address >= MAX_FAILURES_PER_ADDRESS {
        // The count falls as the address's failures age out of the window.
        let wait = WINDOW_MINUTES as u64 * 60;
        return Ok(Err(AppError::TooManyRequests {
            message: format!(
                "Too many failed sign-ins from your address. Try again in {}.",
                in_words(wait)
            ),
            retry_after_seconds: wait,
        }));
    }
    // One statement: the row lock of the upsert orders concurrent attempts of a pair, and each
    // sees the count the previous one left.
    let expired = format!("t.last_at < now() - make_interval(mins => {WINDOW_MINUTES})");
    let counted: Option<i32> = sqlx::query_scalar(&format!(
        "INSERT INTO public.login_throttle AS t (realm, username, ip, failures, last_at) \
         VALUES ($1, $2, $3, 1, now()) \
         ON CONFLICT (realm, username, ip) DO UPDATE \
           SET failures = CASE WHEN {expired} THEN 1 ELSE t.failures + 1 END, last_at = now() \
           WHERE {expired} OR t.last_at + make_interval(secs => {}) <= now() \
         RETURNING failures",
        delay_sql("t.failures")
    ))
    .bind(attempt.realm)
    .bind(&attempt.username)
    .bind(attempt.ip)
    .fetch_optional(&ctx.pool)
    .await?;
    if counted.is_none() {
        let wait: f64 = sqlx::query_scalar(&format!(
            "SELECT coalesce(max(extract(epoch FROM t.last_at + make_interval(secs => {}) - now())), 1)::float8 \
             FROM public.login_throttle t WHERE realm = $1 AND username = $2 AND ip = $3",
            delay_sql("t.failures")
        ))
        .bind(attempt.realm)
        .bind(&attempt.username)
        .bind(attempt.ip)
        .fetch_one(&ctx.pool)
        .await?;
        let wait = wait.ceil().max(1.0) as u64;
        return Ok(Err(AppError::TooManyRequests {
            message: format!(
                "Too many failed sign-ins for this user from your address. Try again in {}.",
                in_words(wait)
            ),
            retry_after_seconds: wait,
        }));
    }
    let steps = u32::try_from(by_user / USER_SLOWDOWN_STEP).unwrap_or(u32::MAX);
    Ok(Ok(Duration::from_secs(steps.into()).min(MAX_USER_SLOWDOWN)))
}

/// After a successful sign-in: the pair starts afresh, and pairs quiet for the window are
/// forgotten.
pub(crate) async fn succeeded(ctx: &Ctx, attempt: &Attempt<'_>) -> AppResult<()> {
    sqlx::query(&format!(
        "DELETE FROM public.login_throttle \
         WHERE (realm = $1 AND username = $2 AND ip = $3) \
            OR last_at < now() - make_interval(mins => {WINDOW_MINUTES})"
    ))
    .bind(attempt.realm)
    .bind(&attempt.username)
    .bind(attempt.ip)
    .execute(&ctx.pool)
    .await?;
    Ok(())
}

fn in_words(seconds: u64) -> String {
    match seconds {
        1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn waits_are_said_in_words() {
        assert_eq!(in_words(1), "1 second");
        assert_eq!(in_words(15), "15 seconds");
        assert_eq!(in_words(900), "15 minutes");
        assert_eq!(in_words(121), "3 minutes");
    }
}
