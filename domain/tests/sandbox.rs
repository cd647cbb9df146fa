//! Hostile scripts at the runner level: real processes in real bubblewrap.
//!
//! Each test uses a uid of its own (62001…, away from the production pool at 61000) so the
//! tests can run in parallel and each can check that nothing of its uid survives the run.
//! Needs root (as in CI) to use pool uids; as another user the tests are skipped.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::{
    AssetKind, Executors, Limits, LogLine, RunOutcome, RunRequest, RunStatus, SandboxConfig, Stream,
};
use tokio::sync::{mpsc, watch};

const MIB: u64 = 1024 * 1024;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: the sandbox tests need root (pool uids)");
            return;
        }
    };
}

/// A run's folders under the system temp dir, removed on drop.
struct Fixture {
    root: PathBuf,
    skill: PathBuf,
    work: PathBuf,
}

impl Fixture {
    fn new(name: &str, kind: AssetKind, script: &str) -> Fixture {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "execgov-sandbox-{name}-{}-{nanos}",
            std::process::id()
        ));
        let skill = root.join("skill");
        let work = root.join("work");
        fs::create_dir_all(&skill).unwrap();
        fs::create_dir_all(work.join("files")).unwrap();
        fs::create_dir_all(work.join("output")).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&skill, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&work, fs::Permissions::from_mode(0o700)).unwrap();
        let entry = skill.join(kind.entry_file());
        fs::write(&entry, script).unwrap();
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(work.join("inputs.json"), "{}").unwrap();
        Fixture { root, skill, work }
    }

    fn inputs(&self, json: &str) {
        fs::write(self.work.join("inputs.json"), json).unwrap();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// As the server runs them: the next sandbox started ahead of its run, with folders of its own.
fn executors(uid: u32) -> Executors {
    Executors::new(SandboxConfig {
        first_uid: uid,
        uid_slots: 1,
        warm_dir: Some(
            std::env::temp_dir().join(format!("execgov-sandboxes-{uid}-{}", std::process::id())),
        ),
        warm: 1,
        ..SandboxConfig::default()
    })
}

/// Short limits so hostile tests end fast.
fn limits() -> Limits {
    Limits {
        wall: Duration::from_secs(10),
        cpu_seconds: 10,
        address_space: 512 * MIB,
        file_size: 10 * MIB,
        open_files: 64,
        processes: 16,
        memory: 16 * 512 * MIB,
        output_cap: 64 * 1024,
        artifacts_cap: 20 * MIB,
        tmp_size: 8 * MIB,
    }
}

struct Ran {
    outcome: RunOutcome,
    lines: Vec<LogLine>,
    elapsed: Duration,
}

impl Ran {
    fn stdout(&self) -> String {
        self.text(Stream::Stdout)
    }
    fn stderr(&self) -> String {
        self.text(Stream::Stderr)
    }
    fn text(&self, s: Stream) -> String {
        self.lines
            .iter()
            .filter(|l| l.stream == s)
            .map(|l| format!("{}\n", l.line))
            .collect()
    }
    fn reason(&self) -> &str {
        self.outcome.reason.as_deref().unwrap_or("")
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} in {:?}\n--- stdout\n{}--- stderr\n{}",
            self.outcome,
            self.elapsed,
            truncate(&self.stdout()),
            truncate(&self.stderr())
        )
    }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(2000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

async fn run_with(
    ex: &Executors,
    fx: &Fixture,
    kind: AssetKind,
    limits: Limits,
    env: Vec<(String, String)>,
    cancel: watch::Receiver<bool>,
) -> Ran {
    let given = Given {
        env,
        ..Given::default()
    };
    run_given(ex, fx, kind, limits, given, cancel).await
}

/// What a run is given besides its script and limits.
#[derive(Clone, Default)]
struct Given {
    env: Vec<(String, String)>,
    args: Vec<String>,
    stdin: Vec<u8>,
    artifacts: Vec<String>,
    environment: Option<PathBuf>,
}

async fn run_given(
    ex: &Executors,
    fx: &Fixture,
    kind: AssetKind,
    limits: Limits,
    given: Given,
    cancel: watch::Receiver<bool>,
) -> Ran {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let outcome = ex
        .run(
            RunRequest {
                kind,
                script_dir: &fx.skill,
                work_dir: &fx.work,
                env: given.env,
                args: given.args,
                stdin: given.stdin,
                artifacts: given.artifacts,
                limits,
                environment: given.environment,
            },
            tx,
            cancel,
        )
        .await
        .expect("the run is set up");
    let elapsed = started.elapsed();
    let mut lines = Vec::new();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    Ran {
        outcome,
        lines,
        elapsed,
    }
}

/// One run as `uid`, then the checks every test shares: prompt return, nothing of the uid
/// left running, the work folder given back to root.
async fn run(uid: u32, fx: &Fixture, kind: AssetKind, limits: Limits) -> Ran {
    let wall = limits.wall;
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&executors(uid), fx, kind, limits, vec![], cancel).await;
    after_run(uid, fx, &ran, wall);
    ran
}

fn after_run(uid: u32, fx: &Fixture, ran: &Ran, wall: Duration) {
    assert!(
        ran.elapsed < wall + Duration::from_secs(3),
        "returned late: {ran:?}"
    );
    assert_eq!(
        run_processes(uid),
        Vec::<i32>::new(),
        "left behind: {ran:?}"
    );
    assert_eq!(
        fs::symlink_metadata(&fx.work).unwrap().uid(),
        0,
        "work folder not given back"
    );
}

/// Live processes of `uid` apart from one sandbox started ahead for the next run (bubblewrap
/// and its child, the init waiting on stdin, which are not the finished run's).
fn run_processes(uid: u32) -> Vec<i32> {
    let status = |pid: i32| fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |pid: i32, name: &str| {
        status(pid)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let live = live_processes(uid);
    let bwrap: Vec<i32> = live
        .iter()
        .copied()
        .filter(|&pid| field(pid, "Name:") == "bwrap")
        .collect();
    // The init (and a warm interpreter, its child) is matched by its parent, not its command
    // line: while it execs, it briefly shows none.
    let mut sandbox = bwrap.clone();
    for _ in 0..2 {
        for &pid in &live {
            if !sandbox.contains(&pid)
                && field(pid, "PPid:")
                    .parse()
                    .is_ok_and(|p| sandbox.contains(&p))
            {
                sandbox.push(pid);
            }
        }
    }
    let (ahead, others): (Vec<i32>, Vec<i32>) =
        live.into_iter().partition(|pid| sandbox.contains(pid));
    assert!(ahead.len() <= 3, "more than one sandbox ahead: {ahead:?}");
    for &pid in &others {
        eprintln!("left: {pid} {:?}", status(pid));
    }
    others
}

/// Non-zombie processes whose real/effective/saved uid is `uid`.
fn live_processes(uid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for ent in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        let mine = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|u| {
                u.split_whitespace()
                    .take(3)
                    .any(|x| x.parse::<u32>().ok() == Some(uid))
            })
            .unwrap_or(false);
        if mine && !zombie {
            found.push(pid);
        }
    }
    found
}

fn host_can_spawn() -> bool {
    std::process::Command::new("/bin/true")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------

const REPORT_PY: &str = r##"
import csv, json, os, statistics
with open(os.environ["EXECGOV_INPUTS"]) as f:
    inputs = json.load(f)
rows = list(csv.DictReader(open(os.path.join(os.environ["EXECGOV_FILES"], "data.csv"))))
values = [float(r["amount"]) for r in rows]
print("read", len(rows), "rows for", inputs["title"])
summary = [{"column": "amount", "count": len(values), "mean": statistics.mean(values),
            "median": statistics.median(values), "stdev": round(statistics.stdev(values), 3)}]
with open(os.path.join(os.environ["EXECGOV_OUTPUT"], "report.md"), "w") as f:
    f.write("# " + inputs["title"] + "\n\nmean: " + str(summary[0]["mean"]) + "\n")
os.makedirs(os.path.join(os.environ["EXECGOV_OUTPUT"], "sub"), exist_ok=True)
open(os.path.join(os.environ["EXECGOV_OUTPUT"], "sub", "n.txt"), "w").write("3")
os.symlink("/etc/passwd", os.path.join(os.environ["EXECGOV_OUTPUT"], "link"))
with open(os.environ["EXECGOV_RESULT"], "w") as f:
    json.dump(summary, f)
import sys; print("done", file=sys.stderr)
"##;

#[tokio::test]
async fn normal_python_script_succeeds_with_artifacts_and_result() {
    require_root!();
    let fx = Fixture::new("normal", AssetKind::Python, REPORT_PY);
    fx.inputs(r#"{"title": "Sales"}"#);
    fs::write(
        fx.work.join("files/data.csv"),
        "name,amount\na,1\nb,2\nc,6\n",
    )
    .unwrap();
    let ran = run(62001, &fx, AssetKind::Python, limits()).await;
    let o = &ran.outcome;
    assert_eq!(o.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(o.reason, None, "{ran:?}");
    assert!(ran.stdout().contains("read 3 rows for Sales"), "{ran:?}");
    assert_eq!(ran.stderr(), "done\n");
    let paths: Vec<_> = o.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        ["report.md", "sub/n.txt"],
        "symlinks are not artifacts"
    );
    assert_eq!(o.artifacts[1].size, 1);
    assert!(!fx.work.join("output/link").exists(), "symlink removed");
    let result: serde_json::Value =
        serde_json::from_str(o.result.as_deref().expect("result.json")).unwrap();
    assert_eq!(result[0]["mean"], 3.0);
    assert_eq!(result[0]["count"], 3);
    let report = fs::read_to_string(fx.work.join("output/report.md")).unwrap();
    assert!(report.starts_with("# Sales"));
    assert_eq!(
        fs::metadata(fx.work.join("output/report.md"))
            .unwrap()
            .uid(),
        0,
        "artifacts given back to the work folder's owner"
    );
}

#[tokio::test]
async fn shell_script_and_exit_code() {
    require_root!();
    let fx = Fixture::new(
        "shell",
        AssetKind::Shell,
        "set -eu\necho \"in $(pwd) as $(whoami)\"\n\
         echo 'b a b' | tr ' ' '\\n' | sort | uniq -c | awk '{print $2 \"=\" $1}' | paste -sd,\n\
         echo '[1, 2]' > \"$EXECGOV_RESULT\"\nexit 3\n",
    );
    let ran = run(62002, &fx, AssetKind::Shell, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.outcome.exit_code, Some(3));
    assert_eq!(ran.reason(), "exit code 3");
    assert_eq!(ran.stdout(), "in /work as sandbox\na=1,b=2\n", "{ran:?}");
    assert_eq!(ran.outcome.result.as_deref().map(str::trim), Some("[1, 2]"));
}

#[tokio::test]
async fn infinite_loop_times_out() {
    require_root!();
    let fx = Fixture::new("loop", AssetKind::Python, "while True:\n    pass\n");
    let l = Limits {
        wall: Duration::from_secs(2),
        ..limits()
    };
    let ran = run(62003, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::TimedOut, "{ran:?}");
    assert_eq!(ran.reason(), "timed out after 2 s");
    assert_eq!(ran.outcome.signal, Some(9));
    assert!(ran.elapsed < Duration::from_millis(3000), "{ran:?}");
}

#[tokio::test]
async fn cpu_burner_hits_the_cpu_limit() {
    require_root!();
    let fx = Fixture::new("cpu", AssetKind::Python, "x = 0\nwhile True:\n    x += 1\n");
    let l = Limits {
        cpu_seconds: 1,
        ..limits()
    };
    let ran = run(62004, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "killed: CPU time limit (1 s)");
    assert_eq!(ran.outcome.signal, Some(libc::SIGXCPU));
}

/// Samples how many processes `uid` has, every 10 ms, until dropped; reports the peak.
struct PeakSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<usize>>,
}

impl PeakSampler {
    fn start(uid: u32) -> PeakSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(live_processes(uid).len());
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        PeakSampler {
            stop,
            handle: Some(handle),
        }
    }

    fn peak(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

async fn fork_bomb(uid: u32, kind: AssetKind, script: &str) {
    let fx = Fixture::new("bomb", kind, script);
    let l = Limits {
        wall: Duration::from_secs(3),
        ..limits()
    };
    let processes = l.processes as usize;
    let sampler = PeakSampler::start(uid);
    let ran = run(uid, &fx, kind, l).await;
    let peak = sampler.peak();
    assert!(
        matches!(ran.outcome.status, RunStatus::TimedOut | RunStatus::Failed),
        "{ran:?}"
    );
    // The script's budget plus bubblewrap and the sandbox's pid 1.
    assert!(peak <= processes + 2, "peak {peak} processes");
    assert!(peak >= processes / 2, "the bomb did fork: peak {peak}");
    assert!(host_can_spawn(), "the host can still start processes");
}

#[tokio::test]
async fn bash_fork_bomb_is_contained() {
    require_root!();
    fork_bomb(62005, AssetKind::Shell, ":(){ :|:& };:\nsleep 10\n").await;
}

#[tokio::test]
async fn python_fork_bomb_is_contained() {
    require_root!();
    fork_bomb(
        62006,
        AssetKind::Python,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    )
    .await;
}

#[tokio::test]
async fn memory_hog_runs_out_of_memory() {
    require_root!();
    let fx = Fixture::new(
        "memory",
        AssetKind::Python,
        "chunks = []\nchunks.append(bytearray(4 * 1024 ** 3))\nprint('allocated')\n",
    );
    let l = Limits {
        address_space: 256 * MIB,
        ..limits()
    };
    let ran = run(62007, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "out of memory (address-space limit 256 MiB)");
    assert!(!ran.stdout().contains("allocated"));

    // Growing step by step hits the same wall.
    let fx = Fixture::new(
        "memory2",
        AssetKind::Python,
        "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 * 1024 * 1024))\n",
    );
    let l = Limits {
        address_space: 256 * MIB,
        ..limits()
    };
    let ran = run(62007, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(ran.reason().starts_with("out of memory"), "{ran:?}");
}

fn largest_file(dir: &Path) -> u64 {
    let mut max = 0;
    for ent in fs::read_dir(dir).unwrap().flatten() {
        let m = ent.metadata().unwrap();
        if m.is_dir() {
            max = max.max(largest_file(&ent.path()));
        } else {
            max = max.max(m.len());
        }
    }
    max
}

#[tokio::test]
async fn writing_1_gb_hits_the_file_size_limit() {
    require_root!();
    // Python ignores SIGXFSZ and gets EFBIG.
    let fx = Fixture::new(
        "bigfile",
        AssetKind::Python,
        "import os\nwith open('output/big.bin', 'wb') as f:\n    for _ in range(1024):\n        f.write(b'\\0' * (1024 * 1024))\n",
    );
    let ran = run(62008, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "file size limit (10 MiB) exceeded");
    assert!(largest_file(&fx.work) <= 10 * MIB);

    // head is killed by SIGXFSZ.
    let fx = Fixture::new(
        "bigfile-sh",
        AssetKind::Shell,
        "head -c 1G /dev/zero > output/big.bin\n",
    );
    let ran = run(62008, &fx, AssetKind::Shell, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "killed: file size limit (10 MiB)");
    assert_eq!(ran.outcome.signal, Some(libc::SIGXFSZ));
    assert!(largest_file(&fx.work) <= 10 * MIB);
}

#[tokio::test]
async fn many_files_hit_the_disk_cap() {
    require_root!();
    let fx = Fixture::new(
        "disk",
        AssetKind::Python,
        "import time\nfor i in range(40):\n    open(f'scratch{i}', 'wb').write(b'x' * (5 * 1024 * 1024))\ntime.sleep(30)\n",
    );
    let ran = run(62009, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "disk usage over 20 MiB");
    assert!(ran.elapsed < Duration::from_secs(5), "{ran:?}");
}

#[tokio::test]
async fn artifacts_over_the_cap_fail_the_run() {
    require_root!();
    // The work folder's growth stays under the cap (8 MiB written; an uploaded 4 MiB moved
    // into output/), the artifacts do not.
    let fx = Fixture::new(
        "artifacts",
        AssetKind::Python,
        "import os\nos.rename('files/a0.bin', 'output/a0.bin')\nfor i in (1, 2):\n    open(f'output/a{i}.bin', 'wb').write(b'x' * (4 * 1024 * 1024))\n",
    );
    fs::write(fx.work.join("files/a0.bin"), vec![b'x'; 4 * MIB as usize]).unwrap();
    let l = Limits {
        artifacts_cap: 10 * MIB,
        ..limits()
    };
    let ran = run(62010, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "artifacts over 10 MiB (12 MiB)");
    assert_eq!(ran.outcome.artifacts.len(), 3);
}

#[tokio::test]
async fn hundred_mb_of_stdout_is_truncated() {
    require_root!();
    let fx = Fixture::new(
        "stdout",
        AssetKind::Python,
        "import sys\nblock = ('x' * 99 + '\\n') * 10000\nfor _ in range(100):\n    sys.stdout.write(block)\nsys.stdout.write('y' * 100000)\nprint('the end', file=sys.stderr)\n",
    );
    let l = limits();
    let cap = l.output_cap;
    let ran = run(62011, &fx, AssetKind::Python, l).await;
    let o = &ran.outcome;
    assert_eq!(o.status, RunStatus::Succeeded, "{ran:?}");
    assert!(o.stdout_truncated && !o.stderr_truncated);
    assert_eq!(ran.reason(), "output truncated (stdout)");
    let delivered: usize = ran
        .lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .map(|l| l.line.len() + 1)
        .sum();
    assert!(
        delivered <= cap && delivered > cap - 200,
        "delivered {delivered}"
    );
    assert_eq!(ran.stderr(), "the end\n");
    assert!(ran.lines.iter().all(|l| l.line.len() <= 8192));
}

#[tokio::test]
async fn network_is_unreachable() {
    require_root!();
    let fx = Fixture::new(
        "network",
        AssetKind::Python,
        r#"
import socket
for host, port in [("127.0.0.1", 5432), ("1.1.1.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print(host, "connected")
    except OSError as e:
        print(host, "error", type(e).__name__, e.errno)
print("interfaces", [n for _, n in socket.if_nameindex()])
"#,
    );
    let ran = run(62012, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let out = ran.stdout();
    assert!(
        out.contains("127.0.0.1 error ConnectionRefusedError"),
        "{ran:?}"
    );
    assert!(out.contains("1.1.1.1 error OSError 101"), "{ran:?}"); // ENETUNREACH
    assert!(out.contains("interfaces ['lo']"), "{ran:?}");
    assert!(!out.contains("connected"));
    assert!(
        ran.elapsed < Duration::from_secs(2),
        "no waiting on a timeout"
    );
}

#[tokio::test]
async fn host_unix_socket_is_not_visible() {
    require_root!();
    let fx = Fixture::new("unixsock", AssetKind::Python, "");
    let sock_dir = fx.root.join("pg-run");
    fs::create_dir_all(&sock_dir).unwrap();
    fs::set_permissions(&sock_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let sock = sock_dir.join(".s.PGSQL.5432");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o777)).unwrap();
    let script = format!(
        r#"
import socket
for path in [{sock:?}, "/run/postgresql/.s.PGSQL.5432", "/var/run/postgresql/.s.PGSQL.5432"]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        print("connected", path)
    except OSError as e:
        print("error", type(e).__name__)
"#
    );
    fs::write(fx.skill.join("main.py"), script).unwrap();
    let ran = run(62013, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(
        ran.stdout(),
        "error FileNotFoundError\n".repeat(3),
        "{ran:?}"
    );
}

#[tokio::test]
async fn host_files_are_not_readable() {
    require_root!();
    // Another tenant's workspace and a fake server data dir, with world-readable secrets.
    let other = Fixture::new("other-tenant", AssetKind::Python, "");
    fs::write(other.work.join("output/secret.txt"), "tenant 2 secret").unwrap();
    fs::set_permissions(&other.work, fs::Permissions::from_mode(0o755)).unwrap();
    let fx = Fixture::new("files", AssetKind::Python, "");
    let data = fx.root.join("data/pgdata");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("postgresql.auto.conf"), "password = secret").unwrap();
    let script = format!(
        r#"
import os
for path in ["/etc/shadow", "/etc/gshadow", {sibling:?}, {data:?}, "/root/.bash_history", "/proc/1/root/etc/shadow"]:
    try:
        print(path, "READ", open(path).read()[:20])
    except OSError as e:
        print(path, type(e).__name__)
print("etc", sorted(os.listdir("/etc")))
print("root", sorted(os.listdir("/")))
"#,
        sibling = other.work.join("output/secret.txt"),
        data = data.join("postgresql.auto.conf"),
    );
    fs::write(fx.skill.join("main.py"), script).unwrap();
    let ran = run(62014, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let out = ran.stdout();
    assert!(!out.contains("READ"), "{ran:?}");
    assert!(out.contains("/etc/shadow FileNotFoundError"), "{ran:?}");
    assert!(
        out.contains(&format!(
            "{} FileNotFoundError",
            other.work.join("output/secret.txt").display()
        )),
        "{ran:?}"
    );
    assert!(
        out.contains("etc ['alternatives', 'group', 'ld.so.cache', 'localtime', 'passwd']"),
        "{ran:?}"
    );
}

#[tokio::test]
async fn environment_is_cleared() {
    require_root!();
    // SAFETY (edition 2021: safe): set before the run; nothing else in this test binary
    // reads DATABASE_URL.
    std::env::set_var("DATABASE_URL", "postgres://secret@localhost/execgov");
    let fx = Fixture::new(
        "env",
        AssetKind::Python,
        "import os\nfor k in sorted(os.environ):\n    print(k + '=' + os.environ[k])\n",
    );
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(
        &executors(62015),
        &fx,
        AssetKind::Python,
        limits(),
        vec![("EXECGOV_EXECUTION_ID".into(), "42".into())],
        cancel,
    )
    .await;
    after_run(62015, &fx, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let out = ran.stdout();
    assert!(!out.contains("secret"), "{ran:?}");
    let keys: Vec<&str> = out.lines().map(|l| l.split('=').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "EXECGOV_EXECUTION_ID",
            "EXECGOV_FILES",
            "EXECGOV_INPUTS",
            "EXECGOV_OUTPUT",
            "EXECGOV_RESULT",
            "HOME",
            "LANG",
            "PATH"
        ],
        "{ran:?}"
    );
    assert!(out.contains("EXECGOV_INPUTS=/work/inputs.json\n"));
    assert!(out.contains("HOME=/work\n"));
    assert!(out.contains("PATH=/env/bin:/usr/bin:/bin\n"));

    // Names outside EXECGOV_* are refused before anything runs.
    let (tx, _rx) = mpsc::unbounded_channel();
    let (_keep, cancel) = watch::channel(false);
    let err = executors(62015)
        .run(
            RunRequest {
                kind: AssetKind::Python,
                script_dir: &fx.skill,
                work_dir: &fx.work,
                env: vec![("LD_PRELOAD".into(), "/tmp/x.so".into())],
                args: Vec::new(),
                stdin: Vec::new(),
                artifacts: Vec::new(),
                limits: limits(),
                environment: None,
            },
            tx,
            cancel,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("LD_PRELOAD"), "{err}");
}

#[tokio::test]
async fn runs_as_an_unprivileged_uid() {
    require_root!();
    let uid = 62016;
    let fx = Fixture::new(
        "uid",
        AssetKind::Shell,
        "id -u\nid -g\necho x > output/mine.txt\nsleep 1.5\n",
    );
    let ex = executors(uid);
    let (_keep, cancel) = watch::channel(false);
    // During the run the work folder's contents are in the sandbox's own folder.
    let watcher = {
        let base =
            std::env::temp_dir().join(format!("execgov-sandboxes-{uid}-{}", std::process::id()));
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                let written = fs::read_dir(&base)
                    .unwrap()
                    .flatten()
                    .find_map(|slot| fs::metadata(slot.path().join("work/output/mine.txt")).ok());
                if let Some(m) = written {
                    return Some(m.uid());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        })
    };
    let ran = run_with(&ex, &fx, AssetKind::Shell, limits(), vec![], cancel).await;
    after_run(uid, &fx, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(ran.stdout(), format!("{uid}\n{uid}\n"));
    assert_eq!(
        watcher.join().unwrap(),
        Some(uid),
        "written as the pool uid during the run"
    );
    assert_eq!(
        fs::metadata(fx.work.join("output/mine.txt")).unwrap().uid(),
        0,
        "and given back afterwards"
    );
}

#[tokio::test]
async fn cancellation_kills_promptly() {
    require_root!();
    let uid = 62017;
    let fx = Fixture::new(
        "cancel",
        AssetKind::Python,
        "import time\nprint('started', flush=True)\ntime.sleep(30)\n",
    );
    let ex = executors(uid);
    let (tx, cancel) = watch::channel(false);
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        tx.send(true).unwrap();
        tx
    });
    let ran = run_with(&ex, &fx, AssetKind::Python, limits(), vec![], cancel).await;
    let _tx = canceller.await.unwrap();
    after_run(uid, &fx, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Cancelled, "{ran:?}");
    assert_eq!(ran.reason(), "cancelled");
    assert!(ran.elapsed < Duration::from_millis(1500), "{ran:?}");
    assert_eq!(ran.stdout(), "started\n");
}

#[tokio::test]
async fn escaped_background_processes_are_killed() {
    require_root!();
    // Daemonised children (new session, double fork) outlive the script itself.
    let fx = Fixture::new(
        "daemon",
        AssetKind::Shell,
        "setsid sleep 300 < /dev/null > /dev/null 2>&1 &\n( ( sleep 300 & ) & )\necho spawned\n",
    );
    let ran = run(62018, &fx, AssetKind::Shell, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(3), "{ran:?}");

    // The same without bubblewrap (dev mode): the uid sweep gets them.
    let fx = Fixture::new(
        "daemon-nosandbox",
        AssetKind::Shell,
        "setsid sleep 300 < /dev/null > /dev/null 2>&1 &\necho spawned\n",
    );
    let ex = Executors::new(SandboxConfig {
        enabled: false,
        first_uid: 62019,
        uid_slots: 1,
        ..SandboxConfig::default()
    });
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&ex, &fx, AssetKind::Shell, limits(), vec![], cancel).await;
    after_run(62019, &fx, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
}

#[tokio::test]
async fn sandbox_off_keeps_limits_and_env_clearing() {
    require_root!();
    std::env::set_var("DATABASE_URL", "postgres://secret@localhost/execgov");
    let fx = Fixture::new(
        "nosandbox",
        AssetKind::Python,
        "import os\nprint(sorted(os.environ), os.getuid())\nx = 0\nwhile True:\n    x += 1\n",
    );
    let ex = Executors::new(SandboxConfig {
        enabled: false,
        first_uid: 62020,
        uid_slots: 1,
        ..SandboxConfig::default()
    });
    let l = Limits {
        cpu_seconds: 1,
        ..limits()
    };
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&ex, &fx, AssetKind::Python, l, vec![], cancel).await;
    after_run(62020, &fx, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "killed: CPU time limit (1 s)");
    assert!(!ran.stdout().contains("DATABASE_URL"), "{ran:?}");
    assert!(ran.stdout().contains("62020"), "{ran:?}");
}

#[tokio::test]
async fn uid_pool_serialises_runs_beyond_its_size() {
    require_root!();
    // One slot, two runs at once: the second waits for the first's uid.
    let ex = std::sync::Arc::new(executors(62021));
    let a = Fixture::new("pool-a", AssetKind::Shell, "sleep 0.5\nid -u\n");
    let b = Fixture::new("pool-b", AssetKind::Shell, "sleep 0.5\nid -u\n");
    let started = Instant::now();
    let (_k1, c1) = watch::channel(false);
    let (_k2, c2) = watch::channel(false);
    let (ra, rb) = tokio::join!(
        run_with(&ex, &a, AssetKind::Shell, limits(), vec![], c1),
        run_with(&ex, &b, AssetKind::Shell, limits(), vec![], c2),
    );
    assert_eq!(ra.outcome.status, RunStatus::Succeeded, "{ra:?}");
    assert_eq!(rb.outcome.status, RunStatus::Succeeded, "{rb:?}");
    assert_eq!(ra.stdout(), "62021\n");
    assert!(started.elapsed() >= Duration::from_millis(1000));
}

/// Not a test of behaviour: prints what the sandbox costs for a trivial script.
#[tokio::test]
async fn overhead_of_one_trivial_run() {
    require_root!();
    let fx = Fixture::new("overhead", AssetKind::Python, "pass\n");
    let ex = executors(62022);
    let n = 20;
    let started = Instant::now();
    for _ in 0..n {
        let (_keep, cancel) = watch::channel(false);
        let ran = run_with(&ex, &fx, AssetKind::Python, limits(), vec![], cancel).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    }
    let sandboxed = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        let st = std::process::Command::new("/usr/bin/python3")
            .args(["-I", "-S", "-c", "pass"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let bare = started.elapsed() / n;
    eprintln!("trivial python: {sandboxed:?} per sandboxed run vs {bare:?} bare");
}

#[tokio::test]
async fn dropping_the_run_cleans_up() {
    require_root!();
    let uid = 62023;
    let fx = Fixture::new("drop", AssetKind::Shell, "sleep 30 &\nsleep 30\n");
    let ex = executors(uid);
    let (tx, _rx) = mpsc::unbounded_channel();
    let (_keep, cancel) = watch::channel(false);
    let fut = ex.run(
        RunRequest {
            kind: AssetKind::Shell,
            script_dir: &fx.skill,
            work_dir: &fx.work,
            env: vec![],
            args: Vec::new(),
            stdin: Vec::new(),
            artifacts: Vec::new(),
            limits: limits(),
            environment: None,
        },
        tx,
        cancel,
    );
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let fut = assert_send(fut); // workers tokio::spawn it
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_millis(500), fut).await;
    assert!(r.is_err(), "still running when dropped");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(run_processes(uid), Vec::<i32>::new());
    assert_eq!(fs::symlink_metadata(&fx.work).unwrap().uid(), 0);
}

#[tokio::test]
async fn sandbox_start_failure_is_reported() {
    require_root!();
    let uid = 62024;
    let fx = Fixture::new("hidden", AssetKind::Python, "print('hi')\n");
    // The sandboxes' folders sit under a root-only folder the pool uid cannot traverse.
    let ex = executors(uid);
    let base = std::env::temp_dir().join(format!("execgov-sandboxes-{uid}-{}", std::process::id()));
    fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).unwrap();
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&ex, &fx, AssetKind::Python, limits(), vec![], cancel).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(
        ran.reason().starts_with("sandbox failed to start: "),
        "{ran:?}"
    );
    assert_eq!(
        fs::read_to_string(fx.work.join("inputs.json")).unwrap(),
        "{}",
        "the work folder came back"
    );
    drop(ex);
    after_run(uid, &fx, &ran, limits().wall);

    // Without folders of their own, the run's work folder is bound as it is: under a root-only
    // folder, the same failure.
    let private = fx.root.join("private");
    fs::create_dir_all(private.join("work/output")).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let hidden = Fixture {
        root: fx.root.join("unused"),
        skill: fx.skill.clone(),
        work: private.join("work"),
    };
    let direct = Executors::new(SandboxConfig {
        first_uid: uid,
        uid_slots: 1,
        ..SandboxConfig::default()
    });
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(
        &direct,
        &hidden,
        AssetKind::Python,
        limits(),
        vec![],
        cancel,
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(
        ran.reason().starts_with("sandbox failed to start: "),
        "{ran:?}"
    );
}

#[tokio::test]
async fn cancelled_while_waiting_for_a_uid() {
    require_root!();
    let ex = executors(62025);
    let busy = Fixture::new("busy", AssetKind::Shell, "sleep 1\n");
    let queued = Fixture::new("queued", AssetKind::Shell, "echo never\n");
    let (_k1, c1) = watch::channel(false);
    let (tx2, c2) = watch::channel(false);
    let started = Instant::now();
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let cancel_soon = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            tx2.send(true).unwrap();
        };
        let (ran, ()) = tokio::join!(
            run_with(&ex, &queued, AssetKind::Shell, limits(), vec![], c2),
            cancel_soon
        );
        (ran, started.elapsed())
    };
    let (first, (second, second_done)) = tokio::join!(
        run_with(&ex, &busy, AssetKind::Shell, limits(), vec![], c1),
        second
    );
    assert_eq!(first.outcome.status, RunStatus::Succeeded, "{first:?}");
    assert_eq!(second.outcome.status, RunStatus::Cancelled, "{second:?}");
    assert_eq!(second.reason(), "cancelled before start");
    assert!(second_done < Duration::from_millis(800), "{second_done:?}");
    assert!(second.lines.is_empty());
}

#[tokio::test]
async fn nothing_of_a_run_reaches_the_next_run_on_its_uid() {
    require_root!();
    // One uid, two runs one after the other: the second sees none of the first's files,
    // /tmp, /dev/shm or processes, and runs as the same uid.
    let uid = 62026;
    let ex = executors(uid);
    let first = Fixture::new(
        "leak-first",
        AssetKind::Shell,
        "echo secret > /tmp/left.txt\necho secret > /dev/shm/left.txt\necho secret > left.txt\n\
         ( setsid sleep 300 < /dev/null > /dev/null 2>&1 & )\nid -u\n",
    );
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&ex, &first, AssetKind::Shell, limits(), vec![], cancel).await;
    after_run(uid, &first, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(ran.stdout(), format!("{uid}\n"));
    assert!(first.work.join("left.txt").exists(), "{ran:?}");

    let second = Fixture::new(
        "leak-second",
        AssetKind::Shell,
        "echo \"tmp:$(ls -A /tmp | tr '\\n' ' ')\"\necho \"shm:$(ls -A /dev/shm | tr '\\n' ' ')\"\n\
         echo \"work:$(ls -A /work | tr '\\n' ' ')\"\necho \"sleeping:$(ps -eo comm= | grep -c '^sleep$')\"\n\
         id -u\n",
    );
    let (_keep, cancel) = watch::channel(false);
    let ran = run_with(&ex, &second, AssetKind::Shell, limits(), vec![], cancel).await;
    after_run(uid, &second, &ran, limits().wall);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(
        ran.stdout(),
        format!("tmp:\nshm:\nwork:files inputs.json output \nsleeping:0\n{uid}\n"),
        "{ran:?}"
    );
}

#[tokio::test]
async fn starting_sandboxes_leaves_the_server_dumpable() {
    require_root!();
    // The sandbox is started from a child that shares the server's memory while it drops to
    // the pool uid, which marks that memory non-dumpable; the flag must come back.
    // SAFETY: plain prctl calls.
    let before = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
    let fx = Fixture::new("dumpable", AssetKind::Shell, "true\n");
    let ran = run(62027, &fx, AssetKind::Shell, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    // Other tests start sandboxes in parallel, each holding the flag down for a moment.
    let until = Instant::now() + Duration::from_secs(5);
    let mut now = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
    while now != before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
        now = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
    }
    assert_eq!(now, before);
}

#[tokio::test]
async fn two_sandboxes_wait_ready_and_the_longest_waiting_serves_the_next_run() {
    require_root!();
    // Two uids, two sandboxes ahead: after a run, its own uid and a free one each get one, and
    // the next run takes the one that has waited longest (the run's own uid, made ready first).
    let (first_uid, base) = (
        62028,
        std::env::temp_dir().join(format!("execgov-sandboxes-62028-{}", std::process::id())),
    );
    let ex = Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 2,
        warm_dir: Some(base.clone()),
        warm: 2,
        ..SandboxConfig::default()
    });
    let waiting = || fs::read_dir(&base).unwrap().count();
    for round in 1..=2 {
        let fx = Fixture::new("two-ahead", AssetKind::Shell, "id -u\n");
        let (_keep, cancel) = watch::channel(false);
        let ran = run_with(&ex, &fx, AssetKind::Shell, limits(), vec![], cancel).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        assert_eq!(ran.stdout(), format!("{first_uid}\n"), "run {round}");
        // Started in the background once the run has ended.
        let until = Instant::now() + Duration::from_secs(5);
        while waiting() < 2 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(waiting(), 2, "a sandbox's folders per ready sandbox");
        for uid in [first_uid, first_uid + 1] {
            assert_eq!(run_processes(uid), Vec::<i32>::new());
            // bubblewrap and its init, once bubblewrap has started it.
            let until = Instant::now() + Duration::from_secs(5);
            while live_processes(uid).len() < 2 && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(live_processes(uid).len(), 2, "a sandbox waits on uid {uid}");
        }
    }
    drop(ex);
    assert_eq!(waiting(), 0, "dropped with the executors");
    for uid in [first_uid, first_uid + 1] {
        assert_eq!(live_processes(uid), Vec::<i32>::new());
    }
    fs::remove_dir(&base).unwrap();
}

// ---------------------------------------------------------------------------------------
// Issue 11, section 6: seccomp, the run's disk, what the sandbox shows of the host.

/// Each denied call with arguments that would otherwise get past the argument checks (or
/// succeed): the filter answers before the kernel looks at them.
#[cfg(target_arch = "x86_64")]
const SYSCALLS_PY: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    print(name, r, os.strerror(ctypes.get_errno()) if r < 0 else "ok")
params = ctypes.create_string_buffer(120)
call("io_uring_setup", 425, 4, ctypes.addressof(params))
call("keyctl", 250, 0, -3, 0)
call("add_key", 248, 0, 0, 0, 0, -3)
call("bpf", 321, 0, 0, 0)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("ptrace", 101, 16, 1, 0, 0)
call("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
call("kexec_load", 246, 0, 0, 0, 0)
call("mount", 165, 0, 0, 0, 0, 0)
call("umount2", 166, 0, 0)
call("pivot_root", 155, 0, 0)
call("unshare", 272, 0x20000)
call("setns", 308, -1, 0)
call("clone_newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
call("open_by_handle_at", 304, -1, 0, 0)
call("clone3", 435, 0, 0)
call("x32_getpid", 0x40000000 | 39)
print("getpid", os.getpid())
"#;

#[cfg(target_arch = "x86_64")]
#[tokio::test]
async fn seccomp_refuses_the_calls_container_runtimes_deny() {
    require_root!();
    let fx = Fixture::new("seccomp", AssetKind::Python, SYSCALLS_PY);
    let ran = run(65000, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let out = ran.stdout();
    for call in [
        "io_uring_setup",
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "ptrace",
        "process_vm_readv",
        "kexec_load",
        "mount",
        "umount2",
        "pivot_root",
        "unshare",
        "setns",
        "clone_newuser",
        "open_by_handle_at",
    ] {
        let line = format!("{call} -1 Operation not permitted");
        assert!(out.lines().any(|l| l == line), "{call}: {ran:?}");
    }
    for call in ["clone3", "x32_getpid"] {
        let line = format!("{call} -1 Function not implemented");
        assert!(out.lines().any(|l| l == line), "{call}: {ran:?}");
    }
    // What scripts do stays allowed: the interpreter ran all of that, and its pid is 2 (the
    // init is 1).
    assert!(out.ends_with("getpid 2\n"), "{ran:?}");
}

#[tokio::test]
async fn a_script_cannot_trace_the_sandbox_init_and_threads_and_subprocesses_still_work() {
    require_root!();
    // Attaching to the init (same uid, so the kernel alone would allow it). Python's threads
    // and subprocesses (clone, and clone3's fallback to it) still work.
    let fx = Fixture::new(
        "ptrace",
        AssetKind::Python,
        r#"
import ctypes, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(16, 1, 0, 0)
print("attach", r, os.strerror(ctypes.get_errno()))
t = threading.Thread(target=lambda: print("thread ran"))
t.start(); t.join()
print(subprocess.run(["/bin/echo", "child ran"], capture_output=True, text=True).stdout.strip())
"#,
    );
    let ran = run(65001, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(
        ran.stdout(),
        "attach -1 Operation not permitted\nthread ran\nchild ran\n",
        "{ran:?}"
    );
}

#[tokio::test]
async fn files_deleted_while_held_open_count_against_the_disk_cap() {
    require_root!();
    // 10 × 8 MiB written, each deleted at once but kept open: nothing a folder walk can see,
    // 80 MiB on the disk. The cap is 20 MiB.
    let fx = Fixture::new(
        "unlinked",
        AssetKind::Python,
        "import os, time\nheld = []\nfor i in range(10):\n    f = open(f'scratch{i}', 'wb')\n    os.remove(f'scratch{i}')\n    f.write(b'x' * (8 * 1024 * 1024)); f.flush()\n    held.append(f)\ntime.sleep(1)\nprint('held', len(held))\n",
    );
    let ran = run(65002, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.reason(), "disk usage over 20 MiB", "{ran:?}");
    assert!(!ran.stdout().contains("held"), "{ran:?}");
}

#[tokio::test]
async fn a_fast_writer_is_stopped_at_the_disk_cap_not_after_it() {
    require_root!();
    // 270 MiB as fast as it goes, then all removed: a sampled cap sees the folder too late (or
    // not at all). The script counts what the kernel let it write.
    let fx = Fixture::new(
        "fast",
        AssetKind::Python,
        "import os\nwritten = 0\ntry:\n    for i in range(30):\n        with open(f'f{i}', 'wb') as f:\n            f.write(b'x' * (9 * 1024 * 1024))\n        written += 9\nexcept OSError as e:\n    print('stopped', e.errno)\nfor i in range(30):\n    if os.path.exists(f'f{i}'):\n        os.remove(f'f{i}')\nprint('written', written)\n",
    );
    let ran = run(65003, &fx, AssetKind::Python, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(ran.stdout(), "stopped 28\nwritten 18\n", "{ran:?}");
}

#[tokio::test]
async fn the_sandbox_shows_no_host_path_or_server_pid() {
    require_root!();
    let uid = 65004;
    let fx = Fixture::new(
        "mountinfo",
        AssetKind::Shell,
        "cat /proc/self/mountinfo\nls /skill\n",
    );
    let ran = run(uid, &fx, AssetKind::Shell, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let out = ran.stdout();
    let base = std::env::temp_dir().join(format!("execgov-sandboxes-{uid}-{}", std::process::id()));
    for host in [
        base.to_string_lossy().into_owned(),
        fx.root.to_string_lossy().into_owned(),
        format!("/{}-", std::process::id()),
    ] {
        assert!(!out.contains(&host), "{host} shows: {ran:?}");
    }
    assert!(out.contains(" /work "), "{ran:?}");
    assert!(out.ends_with("main.sh\n"), "{ran:?}");
}

/// Whether `uid` (a second account, not the run's) can read `path`.
fn readable_by(uid: u32, path: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("/bin/cat")
        .arg(path)
        .uid(uid)
        .gid(uid)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn another_account_cannot_read_a_runs_skill_or_work_folder() {
    require_root!();
    // While the run (uid 65005) sleeps, uid 65006 tries its sandbox's folders.
    let uid = 65005;
    let fx = Fixture::new(
        "private",
        AssetKind::Shell,
        "echo secret > output/secret.txt\nsleep 2\n",
    );
    fs::write(fx.skill.join("data.txt"), "skill secret").unwrap();
    let base = std::env::temp_dir().join(format!("execgov-sandboxes-{uid}-{}", std::process::id()));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let mut seen = 0;
        for slot in fs::read_dir(&base).unwrap().flatten() {
            let (skill, secret) = (
                slot.path().join("skill/data.txt"),
                slot.path().join("work/output/secret.txt"),
            );
            if skill.exists() {
                seen += 1;
                assert!(secret.exists());
                assert!(!readable_by(65006, &skill), "{}", skill.display());
                assert!(!readable_by(65006, &secret), "{}", secret.display());
                // The run's own uid reads its skill.
                assert!(readable_by(uid, &skill));
            }
        }
        assert_eq!(seen, 1, "the run's folders were found");
    };
    let (ran, ()) = tokio::join!(run(uid, &fx, AssetKind::Shell, limits()), probe);
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
}

#[tokio::test]
async fn the_data_dirs_tenant_folders_are_the_servers_alone() {
    require_root!();
    let dir = std::env::temp_dir().join(format!("execgov-datadir-{}", std::process::id()));
    let files = [
        "assets/1003/abc/main.py",
        "inputs/1003/7/sales.csv",
        "work/1003/7.1/inputs.json",
        "artifacts/1003/7/report.md",
    ];
    for f in files {
        let path = dir.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "tenant data").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let pool = sqlx::PgPool::connect_lazy("postgres://localhost/unused").unwrap();
    domain::Ctx::new(pool, dir.clone())
        .make_tenant_folders_private()
        .unwrap();
    for f in files {
        assert!(!readable_by(65007, &dir.join(f)), "{f}");
        assert!(fs::read_to_string(dir.join(f)).is_ok());
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// Whether this host has a cgroup memory controller mounted at all (v2's root, or v1's own
/// hierarchy), whatever the server makes of it.
fn host_has_memory_cgroups() -> bool {
    Path::new("/sys/fs/cgroup/memory").is_dir()
        || fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
}

/// With cgroups of its own, a run is held by its total memory, not by a process count lowered
/// to keep it: it may start as many threads as its process limit allows (here far more than
/// memory ÷ address space, at least 1), while processes that each stay within their address space but
/// together pass the run's memory are killed by the kernel, and the run says why.
#[tokio::test]
async fn a_runs_memory_and_tasks_are_held_by_its_cgroups() {
    require_root!();
    if !host_has_memory_cgroups() {
        eprintln!("skipped: this host mounts no cgroup memory controller");
        return;
    }
    // Address space as large as glibc's per-thread arenas want (64 MiB reserved each).
    let l = Limits {
        processes: 32,
        address_space: 2048 * MIB,
        memory: 256 * MIB,
        ..limits()
    };
    let fx = Fixture::new(
        "cgroup-threads",
        AssetKind::Python,
        r#"
import threading, time
threads = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print("20 threads ran")
"#,
    );
    let ran = run(71001, &fx, AssetKind::Python, l.clone()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(ran.stdout(), "20 threads ran\n");

    // Four children of 100 MiB each (touched, so really used): 400 MiB against 256 MiB.
    let fx = Fixture::new(
        "cgroup-memory",
        AssetKind::Python,
        r#"
import os, sys, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (100 * 1024 * 1024)
        time.sleep(3)
        os._exit(0)
    children.append(pid)
killed = sum(os.waitpid(pid, 0)[1] & 0x7F == 9 for pid in children)
print("killed", killed)
sys.exit(1 if killed else 0)
"#,
    );
    let ran = run(71001, &fx, AssetKind::Python, l).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(
        ran.reason(),
        "out of memory: the run's memory limit (256 MiB) was reached",
        "{ran:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Issue 12: a skill's Python environment at /env, one interpreter rule for main.py and
// main.sh, warm interpreters.

/// The folders that may hold the test wheels: `EXECGOV_TEST_WHEELHOUSE`, `target/wheelhouse`
/// (where `scripts/test` downloads them).
fn wheelhouse() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("EXECGOV_TEST_WHEELHOUSE").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wheelhouse")),
    ];
    candidates.into_iter().flatten().find(|dir| {
        fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("openpyxl-") && name.ends_with(".whl")
            })
        })
    })
}

/// A Python environment with openpyxl, laid out as the platform builds them (a virtual
/// environment of the system Python, root's, readable by all), made once from the test
/// wheelhouse, offline, and kept; `None` when there is no wheelhouse.
fn openpyxl_env() -> Option<PathBuf> {
    static ENV: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let wheels = wheelhouse()?;
        let dir = std::env::temp_dir().join("execgov-test-env-openpyxl");
        if dir.join("bin/python").exists() {
            return Some(dir);
        }
        // Built under a temporary name, renamed when complete.
        let building = dir.with_extension(std::process::id().to_string());
        let _ = fs::remove_dir_all(&building);
        let python = |args: &[&std::ffi::OsStr]| {
            let st = std::process::Command::new("/usr/bin/python3")
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "python3 {args:?}: {st}");
        };
        python(&[
            "-m".as_ref(),
            "venv".as_ref(),
            "--without-pip".as_ref(),
            building.as_os_str(),
        ]);
        python(&[
            "-m".as_ref(),
            "pip".as_ref(),
            "--python".as_ref(),
            building.join("bin/python").as_os_str(),
            "install".as_ref(),
            "-q".as_ref(),
            "--no-index".as_ref(),
            "--find-links".as_ref(),
            wheels.as_os_str(),
            "openpyxl".as_ref(),
        ]);
        if fs::rename(&building, &dir).is_err() {
            // Another test process made it meanwhile.
            let _ = fs::remove_dir_all(&building);
        }
        Some(dir)
    })
    .clone()
}

macro_rules! require_env {
    () => {
        match openpyxl_env() {
            Some(env) => env,
            None => {
                eprintln!("skipped: no wheelhouse with openpyxl (set EXECGOV_TEST_WHEELHOUSE)");
                return;
            }
        }
    };
}

/// Prints whether the run was served by a warm interpreter (started as the boot, `-c`).
const WARM_PROBE: &str = "import sys\nprint('warm', '-c' in sys.orig_argv)\n";

fn with_env(env: &Path) -> Given {
    Given {
        environment: Some(env.to_path_buf()),
        ..Given::default()
    }
}

/// One run as `uid` on `ex` given `given`, then the shared checks.
async fn run_on(ex: &Executors, uid: u32, fx: &Fixture, kind: AssetKind, given: Given) -> Ran {
    let (_keep, cancel) = watch::channel(false);
    let ran = run_given(ex, fx, kind, limits(), given, cancel).await;
    after_run(uid, fx, &ran, limits().wall);
    ran
}

#[tokio::test]
async fn a_script_imports_openpyxl_with_its_environment_and_not_without() {
    require_root!();
    let env = require_env!();
    let uid = 69001;
    let script = format!("{WARM_PROBE}import openpyxl\nprint(sys.prefix, openpyxl.__version__)\n");
    let fx = Fixture::new("env-import", AssetKind::Python, &script);
    let ex = executors(uid);
    // The first run starts its interpreter with the run; the second finds it warm.
    for warm in [false, true] {
        let ran = run_on(&ex, uid, &fx, AssetKind::Python, with_env(&env)).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        assert!(
            ran.stdout()
                .starts_with(&format!("warm {}\n/env 3.", py_bool(warm))),
            "{ran:?}"
        );
    }
    let ran = run_on(&ex, uid, &fx, AssetKind::Python, Given::default()).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert_eq!(ran.outcome.exit_code, Some(1));
    assert!(
        ran.stderr()
            .contains("ModuleNotFoundError: No module named 'openpyxl'"),
        "{ran:?}"
    );
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[tokio::test]
async fn the_environment_is_read_only_to_the_script() {
    require_root!();
    let env = require_env!();
    let uid = 69002;
    let script = "import os, sysconfig\n\
        site = sysconfig.get_paths()['purelib']\n\
        print('site', site)\n\
        for target in [os.path.join(site, 'evil.py'), '/env/pyvenv.cfg', '/env/new', '/env/bin/python3']:\n\
        \x20   try:\n\
        \x20       open(target, 'a').write('x')\n\
        \x20       print('wrote', target)\n\
        \x20   except OSError as e:\n\
        \x20       print('refused', target)\n";
    let fx = Fixture::new("env-ro", AssetKind::Python, script);
    let ex = executors(uid);
    for given in [with_env(&env), with_env(&env), Given::default()] {
        let ran = run_on(&ex, uid, &fx, AssetKind::Python, given).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        let out = ran.stdout();
        assert!(!out.contains("wrote"), "{ran:?}");
        assert_eq!(out.matches("refused").count(), 4, "{ran:?}");
    }
    let site = fs::read_dir(env.join("lib"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages");
    assert!(!site.join("evil.py").exists());
    assert!(!env.join("new").exists());
}

#[tokio::test]
async fn a_shell_skills_python3_sees_exactly_the_environment() {
    require_root!();
    let env = require_env!();
    let uid = 69003;
    // Debian's dist-packages hold PyYAML: a python3 that sees them imports yaml.
    let host_has_yaml = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import yaml"])
        .status()
        .unwrap()
        .success();
    let script = "command -v python3\n\
        python3 -c 'import sys; print(sys.prefix)'\n\
        python3 -c 'import openpyxl' 2>/dev/null && echo openpyxl || echo no-openpyxl\n\
        python3 -c 'import yaml' 2>/dev/null && echo yaml || echo no-yaml\n";
    let fx = Fixture::new("env-shell", AssetKind::Shell, script);
    let ex = executors(uid);
    let ran = run_on(&ex, uid, &fx, AssetKind::Shell, with_env(&env)).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(
        ran.stdout(),
        "/env/bin/python3\n/env\nopenpyxl\nno-yaml\n",
        "{ran:?}"
    );
    // Without an environment: an empty one, so the standard library only, as main.py has.
    let ran = run_on(&ex, uid, &fx, AssetKind::Shell, Given::default()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    assert_eq!(
        ran.stdout(),
        "/env/bin/python3\n/env\nno-openpyxl\nno-yaml\n",
        "{ran:?} (host python3 has yaml: {host_has_yaml})"
    );
}

#[tokio::test]
async fn a_warm_interpreter_serves_one_run_and_is_never_reused() {
    require_root!();
    let env = require_env!();
    let uid = 69004;
    let script = "import sys\n\
        preloaded = 'openpyxl' in sys.modules\n\
        import openpyxl, os\n\
        print('warm', '-c' in sys.orig_argv, 'preloaded', preloaded)\n\
        print('seen', getattr(openpyxl, 'execgov_mark', None), globals().get('counter'))\n\
        openpyxl.execgov_mark = os.getpid()\n\
        counter = 1\n";
    let fx = Fixture::new("warm-once", AssetKind::Python, script);
    fs::write(
        fx.skill.join("skill.toml"),
        "name = \"Warm once\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\n\
         preload = [\"openpyxl\"]\n",
    )
    .unwrap();
    let ex = executors(uid);
    for round in 0..3 {
        let ran = run_on(&ex, uid, &fx, AssetKind::Python, with_env(&env)).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        let warm = py_bool(round > 0);
        assert_eq!(
            ran.stdout(),
            format!("warm {warm} preloaded {warm}\nseen None None\n"),
            "run {round}: {ran:?}"
        );
    }
}

#[tokio::test]
async fn args_and_stdin_reach_a_warm_script_exactly() {
    require_root!();
    let uid = 69005;
    let script = format!(
        "{WARM_PROBE}import json, os\n\
         data = sys.stdin.buffer.read()\n\
         json.dump({{'argv': sys.argv, 'stdin': list(data), 'environ': dict(os.environ)}},\n\
         \x20         open('result.json', 'w'))\n"
    );
    let fx = Fixture::new("warm-args", AssetKind::Python, &script);
    let args: Vec<String> = [
        "two words",
        "it's \"quoted\"",
        "--leading",
        "-x",
        "$(touch /work/pwned)",
        "`id`",
        "line one\nline two",
        "",
        "ünïcødé ✓",
        "*",
    ]
    .map(String::from)
    .to_vec();
    let stdin = "first line\n$(touch /work/pwned) 'q' \"qq\"\n\tünï ✓-end"
        .as_bytes()
        .to_vec();
    let ex = executors(uid);
    let cases = [
        (false, args.clone(), vec![]),
        (true, args.clone(), stdin.clone()),
        (true, vec![], vec![]),
    ];
    let env = vec![("EXECGOV_NOTE".to_string(), "it's $(x)\nnext=1".to_string())];
    let mut environ = None;
    for (warm, args, stdin) in cases {
        let given = Given {
            env: env.clone(),
            args: args.clone(),
            stdin: stdin.clone(),
            ..Given::default()
        };
        let (_keep, cancel) = watch::channel(false);
        let ran = run_given(&ex, &fx, AssetKind::Python, limits(), given, cancel).await;
        after_run(uid, &fx, &ran, limits().wall);
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        assert_eq!(ran.stdout(), format!("warm {}\n", py_bool(warm)), "{ran:?}");
        let result: serde_json::Value =
            serde_json::from_str(ran.outcome.result.as_deref().unwrap()).unwrap();
        let mut argv = vec!["/skill/main.py".to_string()];
        argv.extend(args);
        assert_eq!(result["argv"], serde_json::json!(argv), "{ran:?}");
        if warm {
            assert_eq!(result["stdin"], serde_json::json!(stdin), "{ran:?}");
        }
        // The same variables, cold or warm.
        assert_eq!(result["environ"]["EXECGOV_NOTE"], "it's $(x)\nnext=1");
        let seen = environ.get_or_insert_with(|| result["environ"].clone());
        assert_eq!(*seen, result["environ"], "{ran:?}");
        assert!(!fx.work.join("pwned").exists());
    }
}

#[tokio::test]
async fn a_warm_runs_failures_are_reported_like_a_cold_runs() {
    require_root!();
    let (warm_uid, cold_uid) = (69006, 69007);
    let warm_ex = executors(warm_uid);
    let cold_ex = Executors::new(SandboxConfig {
        first_uid: cold_uid,
        uid_slots: 1,
        ..SandboxConfig::default()
    });
    let cpu = Limits {
        cpu_seconds: 1,
        ..limits()
    };
    let cases = [
        (
            "exception",
            "import sys\nprint('before')\nraise ValueError('boom')\n",
            limits(),
        ),
        ("exit code", "import sys\nsys.exit(3)\n", limits()),
        (
            "exit message",
            "import sys\nsys.exit('gave up')\n",
            limits(),
        ),
        ("memory", "x = bytearray(1 << 30)\n", limits()),
        ("cpu", "x = 0\nwhile True:\n    x += 1\n", cpu),
        ("syntax", "def (:\n", limits()),
    ];
    for (name, body, l) in cases {
        let probe = if name == "syntax" { "" } else { WARM_PROBE };
        let fx = Fixture::new("warm-fail", AssetKind::Python, &format!("{probe}{body}"));
        let (_keep, cancel) = watch::channel(false);
        let cold = run_with(&cold_ex, &fx, AssetKind::Python, l.clone(), vec![], cancel).await;
        after_run(cold_uid, &fx, &cold, l.wall);
        // Twice: the second run is served by the interpreter started after the first.
        let mut warm = None;
        for _ in 0..2 {
            let (_keep, cancel) = watch::channel(false);
            let ran = run_with(&warm_ex, &fx, AssetKind::Python, l.clone(), vec![], cancel).await;
            after_run(warm_uid, &fx, &ran, l.wall);
            warm = Some(ran);
        }
        let warm = warm.unwrap();
        if name != "syntax" {
            assert!(warm.stdout().starts_with("warm True\n"), "{name}: {warm:?}");
            assert!(
                cold.stdout().starts_with("warm False\n"),
                "{name}: {cold:?}"
            );
        }
        assert_eq!(warm.outcome.status, RunStatus::Failed, "{name}: {warm:?}");
        let facts = |r: &Ran| {
            (
                r.outcome.status,
                r.outcome.exit_code,
                r.outcome.signal,
                r.reason().to_string(),
            )
        };
        assert_eq!(facts(&warm), facts(&cold), "{name}: {warm:?}\n{cold:?}");
        assert_eq!(warm.stderr(), cold.stderr(), "{name}");
        assert_eq!(
            warm.stdout().replace("warm True", "warm False"),
            cold.stdout(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_skills_most_recently_run_keep_their_warm_interpreters() {
    require_root!();
    // Two sandboxes ahead, two skills taking turns: after each has run once, each run finds its
    // own interpreter warm (the sandbox of the other skill is not taken for it, and the one that
    // waited longest for a skill no longer run makes room).
    let first_uid = 69010;
    let base = std::env::temp_dir().join(format!(
        "execgov-sandboxes-{first_uid}-{}",
        std::process::id()
    ));
    let ex = Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 3,
        warm_dir: Some(base),
        warm: 2,
        ..SandboxConfig::default()
    });
    let skill = |name: &str, module: &str| {
        let fx = Fixture::new(
            name,
            AssetKind::Python,
            &format!("{WARM_PROBE}print('{module}' in sys.modules)\n"),
        );
        let manifest = format!(
            "name = \"{name}\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\npreload = [\"{module}\"]\n"
        );
        fs::write(fx.skill.join("skill.toml"), manifest).unwrap();
        fx
    };
    let (a, b) = (skill("turn-a", "csv"), skill("turn-b", "wave"));
    for (round, fx) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
        let (_keep, cancel) = watch::channel(false);
        let ran = run_with(&ex, fx, AssetKind::Python, limits(), vec![], cancel).await;
        assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
        let warm = py_bool(round >= 2);
        assert_eq!(
            ran.stdout(),
            format!("warm {warm}\n{warm}\n"),
            "run {round}: {ran:?}"
        );
        // Requests on an idle system: the sandboxes ahead are ready by the next one.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(ex);
    for uid in first_uid..first_uid + 3 {
        assert_eq!(live_processes(uid), Vec::<i32>::new());
    }
}

// ---------------------------------------------------------------------------------------
// Scripts as they are: arguments, keyboard answers, artifact globs (uids 68001…).

/// Arguments no shell may touch: each must arrive as exactly one argument, unchanged.
fn odd_arguments() -> Vec<String> {
    [
        "--in",
        "/work/files/my sales.csv",
        "it's \"quoted\"",
        "--top",
        "-5",
        "$(touch /work/pwned)",
        "`id`; echo $HOME > /work/pwned2",
        "line one\nline two",
        "",
        "*",
        "ünï ☃",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

async fn run_invoked(
    uid: u32,
    ex: &Executors,
    fx: &Fixture,
    kind: AssetKind,
    (args, stdin, artifacts): (Vec<String>, &[u8], Vec<String>),
    limits: Limits,
) -> Ran {
    let wall = limits.wall;
    let (_keep, cancel) = watch::channel(false);
    let given = Given {
        env: vec![("EXECGOV_INPUT_TOP".into(), "-5".into())],
        args,
        stdin: stdin.to_vec(),
        artifacts,
        ..Given::default()
    };
    let ran = run_given(ex, fx, kind, limits, given, cancel).await;
    after_run(uid, fx, &ran, wall);
    ran
}

const ARGV_PY: &str = r#"
import json, os, sys
first = input("Threshold? ")
second = input("Sure? [y/n] ")
json.dump({"argv": sys.argv[1:], "answers": [first, second], "top": os.environ.get("EXECGOV_INPUT_TOP")},
          open("output/argv.json", "w"))
"#;

fn argv_json(fx: &Fixture) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(fx.work.join("output/argv.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn arguments_and_answers_reach_the_script_untouched() {
    require_root!();
    let fx = Fixture::new("argv", AssetKind::Python, ARGV_PY);
    let input = (odd_arguments(), &b"0.75\ny\n"[..], vec![]);
    let ran = run_invoked(
        68001,
        &executors(68001),
        &fx,
        AssetKind::Python,
        input,
        limits(),
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let got = argv_json(&fx);
    assert_eq!(got["argv"], serde_json::json!(odd_arguments()));
    assert_eq!(got["answers"], serde_json::json!(["0.75", "y"]));
    assert_eq!(got["top"], "-5");
    assert!(!fx.work.join("pwned").exists() && !fx.work.join("pwned2").exists());
}

#[tokio::test]
async fn a_shell_script_gets_its_arguments_whole_too() {
    require_root!();
    let fx = Fixture::new(
        "argv-sh",
        AssetKind::Shell,
        "read -r answer\nprintf '[%s]\\n' \"$@\" \"answer=$answer\" > output/argv.txt\n",
    );
    let input = (odd_arguments(), &b"yes please\n"[..], vec![]);
    let ran = run_invoked(
        68002,
        &executors(68002),
        &fx,
        AssetKind::Shell,
        input,
        limits(),
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let want: String = odd_arguments()
        .iter()
        .chain(std::iter::once(&"answer=yes please".to_string()))
        .map(|a| format!("[{a}]\n"))
        .collect();
    assert_eq!(
        fs::read_to_string(fx.work.join("output/argv.txt")).unwrap(),
        want
    );
}

#[tokio::test]
async fn without_the_sandbox_arguments_and_answers_are_the_same() {
    require_root!();
    let fx = Fixture::new("argv-direct", AssetKind::Python, ARGV_PY);
    let ex = Executors::new(SandboxConfig {
        enabled: false,
        first_uid: 68003,
        uid_slots: 1,
        ..SandboxConfig::default()
    });
    let input = (odd_arguments(), &b"1\nn\n"[..], vec![]);
    let ran = run_invoked(68003, &ex, &fx, AssetKind::Python, input, limits()).await;
    assert_eq!(ran.outcome.status, RunStatus::Succeeded, "{ran:?}");
    let got = argv_json(&fx);
    assert_eq!(got["argv"], serde_json::json!(odd_arguments()));
    assert_eq!(got["answers"], serde_json::json!(["1", "n"]));
}

#[tokio::test]
async fn keyboard_input_without_answers_fails_at_once() {
    require_root!();
    let fx = Fixture::new(
        "keyboard",
        AssetKind::Python,
        "name = input('Your name? ')\nprint('hello', name)\n",
    );
    let ex = executors(68004);
    let l = Limits {
        wall: Duration::from_secs(30),
        ..limits()
    };
    let ran = run_invoked(
        68004,
        &ex,
        &fx,
        AssetKind::Python,
        (vec![], b"", vec![]),
        l.clone(),
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(
        ran.reason()
            .starts_with("the script asked for keyboard input; give its answers with `stdin"),
        "{ran:?}"
    );
    assert!(
        ran.elapsed < Duration::from_secs(5),
        "not until its timeout: {ran:?}"
    );

    // Given fewer answers than it asks for: said so too.
    let fx = Fixture::new(
        "keyboard-more",
        AssetKind::Python,
        "a = input()\nb = input()\n",
    );
    let ran = run_invoked(
        68004,
        &ex,
        &fx,
        AssetKind::Python,
        (vec![], b"1\n", vec![]),
        l,
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(ran.reason().contains("beyond the answers"), "{ran:?}");
}

#[tokio::test]
async fn artifact_globs_collect_written_files_and_never_follow_links() {
    require_root!();
    let fx = Fixture::new(
        "globs",
        AssetKind::Python,
        r##"
import os
open("report.xlsx", "wb").write(b"PK fake workbook")
os.makedirs("reports/old", exist_ok=True)
open("reports/week.md", "w").write("# week")
open("reports/old/skip.md", "w").write("not matched")
open("files/data.xlsx", "w").write("next to the input")
open("notes.txt", "w").write("left behind")
os.symlink("/etc/shadow", "leak.xlsx")
os.symlink("/etc", "reports/etc.md")
open("output/own.txt", "w").write("o")
"##,
    );
    fs::write(fx.work.join("files/data.csv"), "a\n1\n").unwrap();
    let globs = vec!["*.xlsx".into(), "reports/*.md".into(), "files/*".into()];
    let ran = run_invoked(
        68005,
        &executors(68005),
        &fx,
        AssetKind::Python,
        (vec![], b"", globs),
        limits(),
    )
    .await;
    let o = &ran.outcome;
    assert_eq!(o.status, RunStatus::Succeeded, "{ran:?}");
    let paths: Vec<&str> = o.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "files/data.xlsx",
            "own.txt",
            "report.xlsx",
            "reports/week.md"
        ],
        "the upload files/data.csv was there before: not collected"
    );
    assert_eq!(
        o.written_outside,
        [
            "leak.xlsx",
            "notes.txt",
            "reports/etc.md",
            "reports/old/skip.md"
        ]
    );
    assert_eq!(o.written_outside_count, 4);
    assert_eq!(
        fs::read_to_string(fx.work.join("output/report.xlsx")).unwrap(),
        "PK fake workbook"
    );
    assert!(fs::symlink_metadata(fx.work.join("output/leak.xlsx")).is_err());
}

#[tokio::test]
async fn files_collected_by_globs_count_against_the_same_caps() {
    require_root!();
    let fx = Fixture::new(
        "globs-cap",
        AssetKind::Python,
        "for i in range(3):\n    open(f'part{i}.bin', 'wb').write(b'x' * (3 * 1024 * 1024))\n",
    );
    let l = Limits {
        artifacts_cap: 4 * MIB,
        ..limits()
    };
    let ran = run_invoked(
        68006,
        &executors(68006),
        &fx,
        AssetKind::Python,
        (vec![], b"", vec!["*.bin".into()]),
        l,
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Failed, "{ran:?}");
    assert!(ran.reason().contains("over 4 MiB"), "{ran:?}");
}
