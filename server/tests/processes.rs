//! ExecGov as several processes of the real binary on one PostgreSQL, as on several machines:
//! web processes (`--role web`) and worker processes (`--role worker`). A run requested on one
//! web is watched live on another, run by one worker, its artifact downloaded from the other
//! web; a worker killed mid-run (SIGKILL) has its run taken over within the lease, except a
//! confirmed one, which waits for confirmation again; a web killed under load leaves the other
//! serving; PostgreSQL stopped under load: every process says 503 on `/healthz` meanwhile and
//! reconnects by itself; `/metrics` on every process, refused to addresses not allowed.
//!
//! Sandbox uids 73000–73499: 100 per worker process (each uses 64, and one more to install
//! packages).
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use domain::tenancy::Tenant;
use domain::Ctx;

const ACME: &str = "acme.localhost";
/// Short leases, so that a lost worker's run is taken over within seconds.
const LEASE_SECONDS: &str = "3";

/// A skill that logs a line every 300 ms for about 2 s, then writes its artifact.
const TICKING: &str = "import time\nfor i in range(7):\n    print(f'tick {i}', flush=True)\n    \
                       time.sleep(0.3)\nopen('output/made.txt', 'w').write('made by a worker')\n";

/// One process's own data folder ("its machine's disk"), shared with no other process: skill
/// folders, uploads and artifacts reach each process through PostgreSQL.
fn machine_dir(shared: &Path, machine: &str) -> PathBuf {
    let own = shared.join("machines").join(machine);
    std::fs::create_dir_all(&own).unwrap();
    own
}

/// A web process of the real binary on `url`, its data in `dir`, with `env`.
async fn web(url: &str, dir: &Path, env: &[(&str, &str)]) -> ChildServer {
    // A web runs no sandboxes: its uids are never used.
    process(url, dir, "web", 73000, env).await
}

/// A worker process of the real binary on `url`, its sandboxes' uids from `first_uid`.
async fn worker(url: &str, dir: &Path, first_uid: u32, env: &[(&str, &str)]) -> ChildServer {
    process(url, dir, "worker", first_uid, env).await
}

/// A process of the real binary in `role`, with short leases and `env`.
async fn process(
    url: &str,
    dir: &Path,
    role: &str,
    first_uid: u32,
    env: &[(&str, &str)],
) -> ChildServer {
    // Every process of an installation opens tenants' secrets with the same master key.
    let key = dir.join("../../master.key");
    if !key.exists() {
        std::fs::write(&key, format!("{:064x}", 0x5ec2e7u32)).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let key = key.to_str().unwrap().to_string();
    let mut all = vec![
        ("EXECGOV_ROLE", role),
        ("EXECGOV_LEASE_SECONDS", LEASE_SECONDS),
        ("EXECGOV_MASTER_KEY_FILE", &key),
    ];
    all.extend_from_slice(env);
    ChildServer::start_with(url, dir, first_uid, &all).await
}

/// Stops `processes` as an operator does (SIGTERM), then unmounts what any process killed
/// with SIGKILL left mounted under `dir` (its ready sandboxes' own tmpfs).
fn shut_down(processes: Vec<ChildServer>, dir: &Path) {
    for mut process in processes {
        process.stop();
    }
    let dir = dir.canonicalize().unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let left = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .filter(|point| Path::new(point).starts_with(&dir));
    for point in left {
        let _ = std::process::Command::new("umount")
            .args(["-l", point])
            .status();
    }
}

/// Polls `check` every 100 ms until it gives a value, for at most `within`.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An execution's status, reason and attempts, read from its tenant's schema.
async fn state(ctx: &Ctx, tenant: &Tenant, id: i64) -> (String, Option<String>, i32) {
    sqlx::query_as(&format!(
        "SELECT status, reason, attempts FROM {}.executions WHERE id = $1",
        tenant.schema.as_str()
    ))
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .unwrap()
}

/// The workers that started execution `id`, attempt by attempt, from its audit trail.
async fn starts(ctx: &Ctx, tenant: &Tenant, id: i64) -> Vec<(i64, String)> {
    sqlx::query_as(&format!(
        "SELECT (detail->>'attempt')::bigint, detail->>'worker' FROM {}.audit_log \
         WHERE action = 'execution.start' AND target = $1 AND result = 'ok' ORDER BY id",
        tenant.schema.as_str()
    ))
    .bind(format!("execution {id}"))
    .fetch_all(&ctx.pool)
    .await
    .unwrap()
}

/// Whether `worker` is one of the process `pid`'s workers (`<host>-<pid>-w<n>`).
fn of_process(worker: &str, pid: u32) -> bool {
    worker.contains(&format!("-{pid}-w"))
}

/// Requests a run of `slug` through `web` as a member (a signed-in form post); its id.
async fn request_run(web: &TestServer, session: &str, slug: &str) -> i64 {
    let reply = web
        .post_multipart(
            ACME,
            &format!("/skills/{slug}/run"),
            &[],
            &[],
            Some(session),
        )
        .await;
    let location = reply.location.expect("the run form redirects to the run");
    location
        .strip_prefix("/executions/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a run's page: {location}"))
}

/// A `/metrics` scrape of `addr` (with `headers`): its status and text.
async fn scrape(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = http_client().get(format!("http://{addr}/metrics"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_requested_on_one_web_is_watched_on_another_and_run_by_one_worker() {
    let db = seeded_db().await;
    let acme = tenant_of(&db.ctx, ACME).await;
    register_script(&db.ctx, &acme, ("ticking", "main.py", TICKING), 60).await;
    let url = database_url(&db).await;
    let web_a = web(&url, &machine_dir(&db.ctx.data_dir, "web-a"), &[]).await;
    // Web B believes the loopback proxy's forwarding headers: how a scraper outside the
    // allowed addresses is simulated below.
    let proxied = [("EXECGOV_TRUSTED_PROXIES", "127.0.0.1")];
    let web_b = web(&url, &machine_dir(&db.ctx.data_dir, "web-b"), &proxied).await;
    let json = [("EXECGOV_LOG_FORMAT", "json")];
    let worker_1 = worker(
        &url,
        &machine_dir(&db.ctx.data_dir, "worker-1"),
        73000,
        &json,
    )
    .await;
    let worker_2 = worker(&url, &machine_dir(&db.ctx.data_dir, "worker-2"), 73100, &[]).await;
    let (a, b) = (
        TestServer::at(web_a.addr, db.ctx.clone()),
        TestServer::at(web_b.addr, db.ctx.clone()),
    );

    // A worker process serves no pages.
    let page = http_client()
        .get(format!("http://{}/login", worker_1.addr))
        .header("host", ACME)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        404,
        "a worker serves only /healthz and /metrics"
    );

    // The console on either web counts both worker processes' workers.
    let admin = b.login("admin.localhost", "superadmin", PASSWORD).await;
    let console = a
        .call("admin.localhost", "platform-dashboard", &[], Some(&admin))
        .await;
    console.assert_ok();
    assert_eq!(
        console.json()["health"]["workers_total"],
        4,
        "{}",
        console.body
    );

    // Signed in on A, the session holds on B (sessions live in PostgreSQL).
    let session = a.login(ACME, "acme-user", PASSWORD).await;
    let on_b = b.get(ACME, "/executions", Some(&session)).await;
    assert_eq!(who(&on_b.body).as_deref(), Some("acme-user"));

    let id = request_run(&a, &session, "ticking").await;
    // Watched live on B: its event stream reports the run as it goes, to its end.
    let mut events = b
        .client
        .get(format!("http://{}/executions/{id}/events", b.addr))
        .header("host", ACME)
        .header("cookie", format!("execgov_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut stream = String::new();
    let watched = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            stream.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(watched.is_ok(), "the live stream never ended:\n{stream}");
    let changes: Vec<&str> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .collect();
    assert!(
        changes.iter().filter(|s| **s == "running").count() >= 3,
        "B saw the run's log lines arrive while it ran: {changes:?}"
    );
    assert_eq!(changes.last(), Some(&"succeeded"), "{changes:?}");
    let log = b
        .get(ACME, &format!("/executions/{id}"), Some(&session))
        .await;
    assert!(log.body.contains("tick 6"), "B shows the whole log");

    // Run by exactly one attempt of one worker process.
    let ran = starts(&db.ctx, &acme, id).await;
    assert_eq!(ran.len(), 1, "{ran:?}");
    let ran_on = ran[0].1.clone();
    assert!(
        of_process(&ran_on, worker_1.pid()) || of_process(&ran_on, worker_2.pid()),
        "{ran_on} is one of the worker processes'"
    );

    // The artifact, from B.
    let artifact = b
        .get(
            ACME,
            &format!("/executions/{id}/artifacts/made.txt"),
            Some(&session),
        )
        .await;
    assert_eq!(artifact.status, 200);
    assert_eq!(artifact.body, "made by a worker");

    // Sign-in throttling counts across webs: wrong passwords alternately on A and B are counted
    // together, and past the free ones the next is held back, on either.
    for attempt in 0..6 {
        let web = if attempt % 2 == 0 { &a } else { &b };
        let wrong = web
            .call(
                ACME,
                "login",
                &[("username", "acme-user"), ("password", "wrong-password")],
                None,
            )
            .await;
        let expected = if attempt < 5 { 401 } else { 429 };
        assert_eq!(wrong.status, expected, "attempt {attempt}: {}", wrong.body);
    }

    // /metrics on every process, in the Prometheus text format.
    let runner = if of_process(&ran_on, worker_1.pid()) {
        &worker_1
    } else {
        &worker_2
    };
    let (status, text) = scrape(runner.addr, &[]).await;
    assert_eq!(status, 200);
    for line in [
        "execgov_runs_started_total{executor=\"python\"} 1",
        "execgov_runs_finished_total{executor=\"python\",status=\"succeeded\"} 1",
        "execgov_process_info{role=\"worker\"} 1",
        "execgov_workers{state=\"busy\"} 0",
        "execgov_workers{state=\"idle\"} 2",
        "execgov_queue_executions{state=\"running\",runner=\"platform\"} 0",
        "execgov_database_up 1",
    ] {
        assert!(
            text.contains(line),
            "{line} in the worker's metrics:\n{text}"
        );
    }
    for name in [
        "execgov_run_duration_seconds_bucket{executor=\"python\",le=",
        "execgov_queue_wait_seconds_count",
        "execgov_sandboxes_ready",
        "execgov_db_pool_connections{state=\"in_use\"}",
        "execgov_db_pool_max_connections 16",
        "# TYPE execgov_run_duration_seconds histogram",
    ] {
        assert!(
            text.contains(name),
            "{name} in the worker's metrics:\n{text}"
        );
    }
    let (status, text) = scrape(web_a.addr, &[]).await;
    assert_eq!(status, 200);
    for line in [
        "execgov_process_info{role=\"web\"} 1",
        "execgov_sign_in_failures_total{reason=\"bad credentials\"} 3",
        "execgov_queue_executions{state=\"queued\",runner=\"platform\"} 0",
    ] {
        assert!(text.contains(line), "{line} in web A's metrics:\n{text}");
    }
    assert!(
        !text.contains("execgov_runs_started_total"),
        "a web runs nothing"
    );
    assert!(!text.contains("acme"), "no tenant data in the metrics");
    // Only from the allowed addresses (loopback by default): a client the trusted proxy
    // forwards from elsewhere is told there is nothing there.
    let (status, text) = scrape(web_b.addr, &[("x-forwarded-for", "192.0.2.7")]).await;
    assert_eq!(status, 404, "{text}");
    assert_eq!(
        scrape(web_b.addr, &[("x-forwarded-for", "127.0.0.1")])
            .await
            .0,
        200
    );

    // EXECGOV_LOG_FORMAT=json: worker 1's log lines are JSON objects.
    let output = worker_1.output();
    let logs: Vec<serde_json::Value> = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "INFO" && l["message"] == "starting" && l["role"] == "Worker"),
        "JSON log lines:\n{output}"
    );
    shut_down(vec![web_a, web_b, worker_1, worker_2], &db.ctx.data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_run_is_taken_over_and_a_confirmed_one_waits_for_confirmation() {
    let db = seeded_db().await;
    let acme = tenant_of(&db.ctx, ACME).await;
    register_script(&db.ctx, &acme, ("ticking", "main.py", TICKING), 60).await;
    let confirmed_skill = "timeout_seconds = 60\nrequires_confirmation = true\n";
    register_skill(
        &db.ctx,
        &acme,
        ("careful", "main.py", TICKING),
        confirmed_skill,
    )
    .await;
    let url = database_url(&db).await;
    let web_process = web(&url, &machine_dir(&db.ctx.data_dir, "web"), &[]).await;
    let one = [("EXECGOV_WORKERS", "1")];
    let mut workers = vec![
        worker(
            &url,
            &machine_dir(&db.ctx.data_dir, "worker-1"),
            73200,
            &one,
        )
        .await,
        worker(
            &url,
            &machine_dir(&db.ctx.data_dir, "worker-2"),
            73300,
            &one,
        )
        .await,
    ];
    let web = TestServer::at(web_process.addr, db.ctx.clone());
    let session = web.login(ACME, "acme-user", PASSWORD).await;

    // Killed mid-run: the other worker process takes the run over once the lease runs out.
    let id = request_run(&web, &session, "ticking").await;
    let first = until("the run starts", Duration::from_secs(30), || async {
        starts(&db.ctx, &acme, id).await.into_iter().next()
    })
    .await;
    let doomed = workers
        .iter()
        .position(|w| of_process(&first.1, w.pid()))
        .expect("one of the worker processes runs it");
    let killed = workers.remove(doomed);
    let pid = nix::unistd::Pid::from_raw(killed.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    let killed_on_db_clock: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&db.ctx.pool)
        .await
        .unwrap();
    let survivor = workers.pop().unwrap();
    let (status, reason, attempts) =
        until("the run is taken over", Duration::from_secs(40), || async {
            let s = state(&db.ctx, &acme, id).await;
            (s.0 == "succeeded").then_some(s)
        })
        .await;
    assert_eq!((status.as_str(), attempts), ("succeeded", 2), "{reason:?}");
    assert!(
        killed_at.elapsed() < Duration::from_secs(30),
        "taken over within the lease and a reaper's look"
    );
    let ran = starts(&db.ctx, &acme, id).await;
    assert_eq!(ran.len(), 2, "{ran:?}");
    assert_eq!(ran[0].0, 1);
    assert_eq!(ran[1].0, 2);
    assert!(of_process(&ran[1].1, survivor.pid()), "{ran:?}");
    // Never run twice at once: the second attempt started after the first one's process died.
    let second_started: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(&format!(
        "SELECT at FROM {}.audit_log WHERE action = 'execution.start' AND target = $1 \
         AND (detail->>'attempt')::int = 2",
        acme.schema.as_str()
    ))
    .bind(format!("execution {id}"))
    .fetch_one(&db.ctx.pool)
    .await
    .unwrap();
    assert!(second_started > killed_on_db_clock);
    // The lost attempt is on the record: its requeue, with why.
    let requeued: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT detail->>'reason' FROM {}.audit_log \
         WHERE action = 'execution.requeue' AND target = $1",
        acme.schema.as_str()
    ))
    .bind(format!("execution {id}"))
    .fetch_all(&db.ctx.pool)
    .await
    .unwrap();
    assert_eq!(requeued, ["worker lost during attempt 1; queued again"]);
    let artifact = web
        .get(
            ACME,
            &format!("/executions/{id}/artifacts/made.txt"),
            Some(&session),
        )
        .await;
    assert_eq!(artifact.body, "made by a worker");

    // A confirmed run whose worker is killed is not run again without a person.
    let id = request_run(&web, &session, "careful").await;
    assert_eq!(state(&db.ctx, &acme, id).await.0, "awaiting_confirmation");
    web.call(
        ACME,
        "confirm-execution",
        &[("id", &id.to_string())],
        Some(&session),
    )
    .await
    .assert_ok();
    until(
        "the confirmed run starts",
        Duration::from_secs(30),
        || async { starts(&db.ctx, &acme, id).await.into_iter().next() },
    )
    .await;
    let pid = nix::unistd::Pid::from_raw(survivor.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let (status, reason, _) = until(
        "the lost confirmed run is handled",
        Duration::from_secs(30),
        || async {
            let s = state(&db.ctx, &acme, id).await;
            (s.0 != "running").then_some(s)
        },
    )
    .await;
    assert_eq!(status, "awaiting_confirmation");
    assert!(
        reason
            .as_deref()
            .unwrap_or("")
            .contains("runs again only when confirmed again"),
        "{reason:?}"
    );
    // A new worker process comes; the run waits all the same, until confirmed again.
    let fresh = worker(
        &url,
        &machine_dir(&db.ctx.data_dir, "worker-3"),
        73200,
        &one,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(state(&db.ctx, &acme, id).await.0, "awaiting_confirmation");
    assert_eq!(
        starts(&db.ctx, &acme, id).await.len(),
        1,
        "not started again"
    );
    web.call(
        ACME,
        "confirm-execution",
        &[("id", &id.to_string())],
        Some(&session),
    )
    .await
    .assert_ok();
    until(
        "confirmed again, it runs",
        Duration::from_secs(30),
        || async { (state(&db.ctx, &acme, id).await.0 == "succeeded").then_some(()) },
    )
    .await;
    let ran = starts(&db.ctx, &acme, id).await;
    assert!(of_process(&ran[1].1, fresh.pid()), "{ran:?}");
    shut_down(vec![web_process, killed, survivor, fresh], &db.ctx.data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_process_killed_under_load_leaves_the_other_serving() {
    let db = seeded_db().await;
    let url = database_url(&db).await;
    let mut web_a = web(&url, &machine_dir(&db.ctx.data_dir, "web-a"), &[]).await;
    let web_b = web(&url, &machine_dir(&db.ctx.data_dir, "web-b"), &[]).await;
    let session = TestServer::at(web_b.addr, db.ctx.clone())
        .login(ACME, "acme-user", PASSWORD)
        .await;
    // Four clients on each web, each asking for the runs page again and again for 4 s (an
    // answer needs the session, the database and a render); A is killed after 1.5 s.
    let stop_at = Instant::now() + Duration::from_secs(4);
    let ask = |addr: std::net::SocketAddr, session: String| async move {
        let client = http_client();
        let mut answers = Vec::new();
        while Instant::now() < stop_at && answers.len() < 1000 {
            let answer = client
                .get(format!("http://{addr}/executions"))
                .header("host", ACME)
                .header("cookie", format!("execgov_session={session}"))
                .send()
                .await;
            let answer = match answer {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.text().await {
                        Ok(body) => Ok((status, body.contains("acme-user"))),
                        Err(err) => Err(err.to_string()),
                    }
                }
                Err(err) => Err(err.to_string()),
            };
            answers.push((Instant::now(), answer));
        }
        answers
    };
    let mut load = Vec::new();
    for addr in [web_a.addr, web_b.addr] {
        for _ in 0..4 {
            load.push((addr, tokio::spawn(ask(addr, session.clone()))));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = nix::unistd::Pid::from_raw(web_a.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    let _ = web_a.stop();
    let (mut a_answered, mut a_refused) = (0, 0);
    for (addr, task) in load {
        for (at, answer) in task.await.unwrap() {
            if addr == web_b.addr {
                assert_eq!(answer, Ok((200, true)), "B answers every request whole");
                continue;
            }
            // A: each request answered whole, or not taken (refused, or cut by the kill):
            // never a wrong or half answer taken for a whole one.
            match answer {
                Ok(answer) => {
                    assert_eq!(answer, (200, true));
                    a_answered += 1;
                }
                Err(_) => {
                    assert!(at > killed_at, "A failed a request before it was killed");
                    a_refused += 1;
                }
            }
        }
    }
    assert!(a_answered > 0, "A served until it was killed");
    assert!(a_refused > 0, "A was killed while under load");
    let b = TestServer::at(web_b.addr, db.ctx.clone());
    assert_eq!(b.get(ACME, "/executions", Some(&session)).await.status, 200);
    shut_down(vec![web_a, web_b], &db.ctx.data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_reports_unhealthy_while_postgres_is_down_and_reconnects_by_itself() {
    // A cluster of its own: the other tests' keeps running.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-data")
        .join(format!("pgrestart_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cluster = server::postgres::PrivateCluster::start(&root, None)
        .await
        .unwrap();
    cluster.create_database("execgov").await.unwrap();
    let url = cluster.app_url("execgov");
    let shared = root.join("data");
    let web = web(&url, &machine_dir(&shared, "web"), &[]).await;
    // Without generic plans (as under Citus): its run below goes as any other.
    let no_generic_plans = [("EXECGOV_GENERIC_PLANS", "off")];
    let worker = worker(
        &url,
        &machine_dir(&shared, "worker"),
        73400,
        &no_generic_plans,
    )
    .await;
    let health = |addr: std::net::SocketAddr| async move {
        let asked = Instant::now();
        let status = http_client()
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "/healthz answers at once"
        );
        status
    };
    for process in [&web, &worker] {
        assert_eq!(health(process.addr).await, 200);
    }

    cluster.stop().await.unwrap();
    for process in [&web, &worker] {
        until("/healthz says 503", Duration::from_secs(10), || async {
            (health(process.addr).await == 503).then_some(())
        })
        .await;
    }
    // Still down a while later: each answer 503, at once, from both.
    for _ in 0..10 {
        for process in [&web, &worker] {
            assert_eq!(health(process.addr).await, 503);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let cluster = server::postgres::PrivateCluster::start(&root, None)
        .await
        .unwrap();
    for process in [&web, &worker] {
        until(
            "/healthz says 200 again",
            Duration::from_secs(20),
            || async { (health(process.addr).await == 200).then_some(()) },
        )
        .await;
    }
    // Back to work: signed in on the web, a run requested there is run by the worker.
    let pool = domain::db::connect(cluster.app_options("execgov"), 2)
        .await
        .unwrap();
    let ctx = Ctx::new(pool, shared);
    let acme = tenant_of(&ctx, ACME).await;
    register_script(&ctx, &acme, ("ticking", "main.py", TICKING), 60).await;
    let web_server = TestServer::at(web.addr, ctx.clone());
    let session = web_server.login(ACME, "acme-user", PASSWORD).await;
    let id = request_run(&web_server, &session, "ticking").await;
    until(
        "the run after the restart ends",
        Duration::from_secs(60),
        || async { (state(&ctx, &acme, id).await.0 == "succeeded").then_some(()) },
    )
    .await;
    let ran = starts(&ctx, &acme, id).await;
    assert!(of_process(&ran[0].1, worker.pid()), "{ran:?}");
    shut_down(vec![web, worker], &root);
    ctx.pool.close().await;
    cluster.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&root);
}
