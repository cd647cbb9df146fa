//! The workers: each waits for work (LISTEN/NOTIFY), takes its turn at the queue and reserves
//! the next execution while one runs.

use super::*;

/// What this process's worker ids begin with (`<host>-<pid>-w`), so that its own busy workers
/// can be told from other processes' in the platform's queue.
pub fn worker_id_prefix() -> String {
    format!("{}-{}-w", hostname(), std::process::id())
}

/// The execution pool of one server process: `count` workers, and the queue's duties
/// ([`start_queue_duties`]).
pub fn start_workers(ctx: Ctx, executors: Arc<Executors>, count: usize, policy: QueuePolicy) {
    let process = worker_id_prefix();
    metrics::gauge!(WORKERS, "state" => "idle").increment(count as f64);
    start_queue_duties(ctx.clone());
    tokio::spawn(announce_workers(ctx.clone(), process.clone(), count));
    let wake = ctx.queue_wake.clone();
    for n in 0..count {
        let (ctx, executors, policy, wake) =
            (ctx.clone(), executors.clone(), policy.clone(), wake.clone());
        let worker_id = format!("{process}{n}");
        tokio::spawn(async move { work_loop(ctx, executors, worker_id, policy, wake).await });
    }
}

/// What every server process does for the queue, whatever its role: one LISTEN connection
/// wakes its idle workers and local agents' long polls (none of them holds a pool connection
/// while it waits), and the reaper, which acts in one process at a time.
pub fn start_queue_duties(ctx: Ctx) {
    tokio::spawn(listen_for_work(ctx.clone(), ctx.queue_wake.clone()));
    // A few looks per lease, so that a lost worker's execution is taken over soon after its
    // lease runs out.
    let every = (ctx.queue.lease / 3).min(Duration::from_secs(5));
    tokio::spawn(async move {
        // Until the server closes the pool on shutdown (then a failure is no news).
        while !ctx.pool.is_closed() {
            if let Err(err) = reap_unless_another_does(&ctx).await {
                if !ctx.pool.is_closed() {
                    tracing::warn!(%err, "reaper failed");
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// Keeps this process's row in `public.worker_processes` fresh (a few times per lease) while it
/// runs, so that any process's console counts its `count` workers; rows no process renewed for
/// an hour go.
async fn announce_workers(ctx: Ctx, process: String, count: usize) {
    while !ctx.pool.is_closed() {
        let announced = sqlx::query(
            "WITH gone AS (DELETE FROM public.worker_processes WHERE seen_at < now() - interval '1 hour') \
             INSERT INTO public.worker_processes (prefix, workers) VALUES ($1, $2) \
             ON CONFLICT (prefix) DO UPDATE SET workers = $2, seen_at = now()",
        )
        .bind(&process)
        .bind(count as i32)
        .execute(&ctx.pool)
        .await;
        if let Err(err) = announced {
            if !ctx.pool.is_closed() {
                tracing::warn!(%err, "announcing this process's workers failed; retrying");
            }
        }
        tokio::time::sleep(ctx.queue.lease / 3).await;
    }
}

/// The worker processes that announced themselves within the last `lease`s: their workers, in
/// all.
pub(crate) async fn workers_running(ctx: &Ctx) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(sum(workers), 0) FROM public.worker_processes \
         WHERE seen_at > now() - make_interval(secs => $1)",
    )
    .bind(2.0 * ctx.queue.lease.as_secs_f64())
    .fetch_one(&ctx.pool)
    .await?)
}

/// The advisory lock the reaping process holds (any number that no other part takes).
const REAPER_LOCK: i64 = 0x6578_6563_676f_7672;

/// [`reap_expired`], unless another process is reaping now: the one holding the reaper's
/// advisory lock reaps, the others skip their turn. The lock is the transaction's, so a
/// process that dies mid-way lets go of it with its connection.
async fn reap_unless_another_does(ctx: &Ctx) -> AppResult<usize> {
    let mut holder = ctx.pool.begin().await?;
    let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(REAPER_LOCK)
        .fetch_one(&mut *holder)
        .await?;
    if !ours {
        return Ok(0);
    }
    let reaped = reap_expired(ctx).await;
    holder.commit().await?;
    reaped
}

/// `/metrics`: this process's workers, by state (`busy`, `idle`).
const WORKERS: &str = "execgov_workers";

/// A platform worker's run began: counted, and its worker busy.
fn run_began(claimed: &Claimed) {
    metrics::counter!("execgov_runs_started_total", "executor" => claimed.kind.clone())
        .increment(1);
    metrics::gauge!(WORKERS, "state" => "idle").decrement(1.0);
    metrics::gauge!(WORKERS, "state" => "busy").increment(1.0);
}

/// A platform worker's run ended after `took` (its end is recorded next): its worker is idle.
fn run_ended(claimed: &Claimed, took: Duration) {
    metrics::histogram!("execgov_run_duration_seconds", "executor" => claimed.kind.clone())
        .record(took.as_secs_f64());
    metrics::gauge!(WORKERS, "state" => "busy").decrement(1.0);
    metrics::gauge!(WORKERS, "state" => "idle").increment(1.0);
}

/// A platform worker's run was recorded as having ended with `status`.
fn run_recorded(claimed: &Claimed, status: ExecutionStatus) {
    metrics::counter!(
        "execgov_runs_finished_total",
        "executor" => claimed.kind.clone(),
        "status" => status.as_str(),
    )
    .increment(1);
}

/// Turns the queue's NOTIFY into a wake-up of every idle worker of this process.
pub(super) async fn listen_for_work(ctx: Ctx, wake: Arc<Notify>) {
    while !ctx.pool.is_closed() {
        let err = listen_until_error(&ctx, &wake).await;
        if ctx.pool.is_closed() {
            break;
        }
        tracing::warn!(%err, "queue listener failed; retrying");
        // Workers poll meanwhile; wake them in case a notification was lost.
        wake.notify_waiters();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Listens on the queue channel until the connection fails; returns why.
pub(super) async fn listen_until_error(ctx: &Ctx, wake: &Notify) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(&ctx.pool).await {
        Ok(listener) => listener,
        Err(err) => return err,
    };
    if let Err(err) = listener.listen(QUEUE_CHANNEL).await {
        return err;
    }
    loop {
        if let Err(err) = listener.recv().await {
            return err;
        }
        wake.notify_waiters();
    }
}

pub(super) async fn work_loop(
    ctx: Ctx,
    executors: Arc<Executors>,
    worker_id: String,
    policy: QueuePolicy,
    wake: Arc<Notify>,
) {
    // Taken by the previous turn: reserved while it ran, or claimed when its end was recorded.
    let mut next: Option<Turn> = None;
    while !ctx.pool.is_closed() {
        // Registered before claiming, so a NOTIFY between "nothing queued" and the wait below
        // is not lost.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let turn = match next.take() {
            Some(turn) => turn,
            None => match claim_next(&ctx, &worker_id, &policy).await {
                Ok(Some(claimed)) => Turn::claimed(claimed),
                Ok(None) => {
                    // Idle: wait for a wake-up, or poll now and then in case one was missed.
                    let _ = tokio::time::timeout(Duration::from_secs(2), notified).await;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(%err, "claiming failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        next = take_turn(&ctx, &executors, turn, &worker_id, &policy).await;
    }
}

/// One execution for a platform worker to run.
pub(super) struct Turn {
    pub(super) claimed: Claimed,
    /// Its work folder is made (a reserved execution's, while the previous turn ran).
    pub(super) work_ready: bool,
    /// Its run, put into a sandbox started ahead while the previous turn ran.
    pub(super) prepared: Option<Prepared>,
    /// Stops the run.
    pub(super) cancel: Arc<watch::Sender<bool>>,
    /// For a reserved execution, started before its start is recorded: the task recording the
    /// previous turn's end and this one's start. It cancels this run when the reservation
    /// turns out to be gone, and must be done before this run's end is recorded.
    pub(super) recording: Option<tokio::task::JoinHandle<()>>,
}

impl Turn {
    pub(super) fn claimed(claimed: Claimed) -> Turn {
        Turn {
            claimed,
            work_ready: false,
            prepared: None,
            cancel: Arc::new(watch::channel(false).0),
            recording: None,
        }
    }
}

/// Runs a turn's execution, reserving the next one meanwhile; returns the next turn: the
/// reserved execution, whose run starts at once while this end (and its start) is recorded in
/// the background, or one claimed by the transaction that records this end.
pub(super) async fn take_turn(
    ctx: &Ctx,
    executors: &Arc<Executors>,
    mut turn: Turn,
    worker_id: &str,
    policy: &QueuePolicy,
) -> Option<Turn> {
    let recording = turn.recording.take();
    let (exited, script_exited) = tokio::sync::oneshot::channel();
    let ahead = (!policy.reserve_for.is_zero()).then(|| {
        let (ctx, executors) = (ctx.clone(), executors.clone());
        let (worker_id, policy) = (worker_id.to_string(), policy.clone());
        let current_tenant = turn.claimed.tenant_id;
        tokio::spawn(reserve_ahead(
            ctx,
            executors,
            worker_id,
            policy,
            current_tenant,
            script_exited,
        ))
    });
    // Once the script has ended, the reservation becomes the worker's next claim while the run
    // is cleaned up after; first, so that a cancellation that came meanwhile wins.
    let take_next = async {
        let reserved = ahead?.await.ok().flatten()?;
        let claimed = &reserved.claimed;
        match take_reservation(ctx, claimed, worker_id, policy).await {
            Ok(Some(attempt)) => {
                let mut next = Turn::claimed(Claimed {
                    attempt,
                    ..reserved.claimed
                });
                next.work_ready = true;
                next.prepared = reserved.prepared;
                Some(next)
            }
            Ok(None) => {
                // Cancelled meanwhile.
                reserved.discard(ctx).await;
                None
            }
            Err(err) => {
                let execution = claimed.execution_id;
                tracing::warn!(%err, execution, "taking a reservation failed");
                reserved.give_back(ctx, worker_id).await;
                None
            }
        }
    };
    // The run goes on in a task of its own, so that its cleanup after the script does not hold
    // up the next one.
    let run = {
        let (ctx, executors) = (ctx.clone(), executors.clone());
        let (worker_id, policy) = (worker_id.to_string(), policy.clone());
        tokio::spawn(async move {
            run_began(&turn.claimed);
            let began = tokio::time::Instant::now();
            let ran = run_execution(&ctx, &executors, &mut turn, &worker_id, &policy, exited).await;
            run_ended(&turn.claimed, began.elapsed());
            (ran, turn.claimed)
        })
    };
    let next = take_next.await;
    let (ctx, worker_id) = (ctx.clone(), worker_id.to_string());
    // How the run went, once it has ended and the previous end is recorded; `None` when it
    // could not be set up (then it is left running: the reaper queues it again once its lease
    // runs out).
    let ended = async move {
        let (ran, claimed) = run.await.ok()?;
        if let Some(recording) = recording {
            recording.await.ok();
        }
        match ran {
            Ok(ran) => Some((ran, claimed)),
            Err(err) => {
                let execution = claimed.execution_id;
                tracing::error!(%err, execution, "the run could not be set up");
                None
            }
        }
    };
    let Some(mut next) = next else {
        let (ran, claimed) = ended.await?;
        return match record_end(&ctx, &claimed, &worker_id, ran, Then::Claim(policy)).await {
            Ok((status, next)) => {
                run_recorded(&claimed, status);
                next.map(Turn::claimed)
            }
            Err(err) => {
                tracing::error!(%err, execution = claimed.execution_id, "execution could not be finished");
                None
            }
        };
    };
    // Its run starts now; this end and its start are recorded meanwhile.
    let (started, cancel) = (next.claimed.clone(), next.cancel.clone());
    next.recording = Some(tokio::spawn(async move {
        // A run that was never set up took no reservation: `ended` is always there.
        let recorded = match ended.await {
            Some((ran, claimed)) => {
                let then = Then::Start(&started);
                match record_end(&ctx, &claimed, &worker_id, ran, then).await {
                    Ok((status, recorded)) => {
                        run_recorded(&claimed, status);
                        recorded.is_some()
                    }
                    Err(err) => {
                        let execution = claimed.execution_id;
                        tracing::error!(%err, execution, "execution could not be finished");
                        false
                    }
                }
            }
            None => false,
        };
        if !recorded {
            // Cancelled as it started (or its start could not be recorded): stop it.
            cancel.send_replace(true);
        }
    }));
    Some(next)
}

/// An execution reserved while the worker's current run goes on, its work folder made and,
/// when a sandbox started ahead was free, its run put into it.
pub(super) struct Reserved {
    pub(super) claimed: Claimed,
    pub(super) prepared: Option<Prepared>,
}

impl Reserved {
    /// Undoes what was made for it: the prepared run (its work folder back), then the folder.
    pub(super) async fn discard(self, ctx: &Ctx) {
        if let Some(prepared) = self.prepared {
            // Dropping it kills the sandbox and moves the folder back: blocking work.
            tokio::task::spawn_blocking(move || drop(prepared))
                .await
                .ok();
        }
        let claimed = &self.claimed;
        let work = attempt_work_dir(ctx, claimed);
        tokio::fs::remove_dir_all(&work).await.ok();
    }

    /// [`Reserved::discard`], and the reservation given back to the queue.
    pub(super) async fn give_back(self, ctx: &Ctx, worker_id: &str) {
        let claimed = self.claimed.clone();
        self.discard(ctx).await;
        if let Err(err) = release_reservation(ctx, &claimed, worker_id).await {
            let execution = claimed.execution_id;
            tracing::warn!(%err, execution, "giving a reservation back failed; the reaper will, once its lease runs out");
        }
    }
}

/// While the worker's current run (in `current_tenant`) goes on, reserves the next execution,
/// makes its work folder and puts its run into a sandbox started ahead, if one is free. Returns
/// it once the current script has ended (`script_exited`), if that is within
/// [`QueuePolicy::reserve_for`]; past that, gives it back to the queue.
pub(super) async fn reserve_ahead(
    ctx: Ctx,
    executors: Arc<Executors>,
    worker_id: String,
    policy: QueuePolicy,
    current_tenant: i64,
    script_exited: tokio::sync::oneshot::Receiver<()>,
) -> Option<Reserved> {
    let deadline = tokio::time::Instant::now() + policy.reserve_for;
    let claimed = match reserve_next(&ctx, &worker_id, &policy, current_tenant).await {
        Ok(reserved) => reserved?,
        Err(err) => {
            tracing::warn!(%err, "reserving the next execution failed");
            return None;
        }
    };
    let execution = claimed.execution_id;
    let mut reserved = Reserved {
        claimed,
        prepared: None,
    };
    if let Err(err) = prepare_claimed_work_dir(&ctx, &reserved.claimed).await {
        tracing::warn!(%err, execution, "making a reserved execution's work folder failed");
        reserved.give_back(&ctx, &worker_id).await;
        return None;
    }
    if let Some(kind) = AssetKind::parse(&reserved.claimed.kind) {
        // Not ready: its turn prepares it, and reports what failed.
        reserved.prepared = prepare_run(&ctx, &executors, &reserved.claimed, kind, None)
            .await
            .unwrap_or_else(|err| {
                tracing::debug!(%err, execution, "preparing a reserved execution's run failed");
                None
            });
    }
    // Dropped unsent: the current script never ran.
    let kept = tokio::select! {
        exited = script_exited => exited.is_ok(),
        _ = tokio::time::sleep_until(deadline) => false,
    };
    if kept {
        return Some(reserved);
    }
    reserved.give_back(&ctx, &worker_id).await;
    None
}
