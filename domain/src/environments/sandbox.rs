//! The installer's sandbox: bubblewrap like a run's (`engine::sandbox`), but with the network
//! (the installer may reach the index) and only these folders:
//!
//! | path          | what                                                          |
//! |---------------|---------------------------------------------------------------|
//! | `/usr`, …     | the host's system, read-only, as for runs                     |
//! | `/etc/…`      | name resolution, CA certificates, pip/uv configuration (ro)   |
//! | `/job`        | the job's folder: `requirements.in` or `lock.txt`, read-only  |
//! | `/env`        | the environment being built (or pip's report), read-write     |
//! | `/cache`      | the installers' download cache and `HOME`, read-write         |
//! | `/wheelhouse` | `EXECGOV_PYTHON_WHEELHOUSE`, read-only, when configured       |
//! | `/opt/uv`     | the uv binary, read-only, when configured                     |
//!
//! It runs as the build uid (root servers) or the server's own, never as root. Nothing a
//! package ships is run: the installer only unpacks checked wheels.
//!
//! A build from source (`EXECGOV_PYTHON_ALLOW_BUILDS`) runs a package's own code, so its
//! sandbox is a run's rather than the installer's: no network, its own uid (neither the
//! installer's nor a run's), and no `/job`, `/env` or shared `/cache`; only `/build`, a fresh
//! folder of its own (the sdist, a throwaway cache, the wheel it makes), beside `/usr`, the
//! wheelhouse (its build backend's wheels) and uv.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use super::{PackageIndex, Tool};
use crate::Ctx;

pub const ENV: &str = "/env";
pub const CACHE: &str = "/cache";
pub const WHEELHOUSE: &str = "/wheelhouse";
/// A build from source's own folder.
pub const BUILD: &str = "/build";
/// The installers' cache under `environments/`, kept between builds (owned by the build uid;
/// environments share no file with it: uv copies).
pub const CACHE_DIR: &str = ".cache";
const UV: &str = "/opt/uv";
/// How often the size of an environment being installed is checked against its cap.
const SIZE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// What the installer needs from the host's `/etc`, where present.
const ETC: [&str; 12] = [
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pip.conf",
    "/etc/xdg/pip",
    "/etc/uv",
];

/// The server's environment variables the installer may see: proxies, certificates and the
/// ordinary pip/uv index settings.
const PASSED_ENV: [&str; 14] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
];

/// Where a sandboxed step runs and what it may touch.
#[derive(Clone, Copy)]
enum Room<'a> {
    /// The installer: the network, the installer's uid, the shared cache, `job` read-only at
    /// `/job` and `writable` (if any) at `/env`.
    Installer {
        job: &'a Path,
        writable: Option<&'a Path>,
    },
    /// A build from source: no network, the source builds' uid, `folder`'s `work/` (fresh,
    /// that uid's) at `/build`, and nothing shared that it could write.
    Builder { folder: &'a Path },
}

/// Runs the installer (`tool` with `args`) in its sandbox with `job` at `/job` and `writable`
/// (if any) at `/env`; its standard output, or why it failed (its own words).
pub async fn run(
    ctx: &Ctx,
    job: &Path,
    writable: Option<&Path>,
    tool: Tool,
    args: &[String],
) -> Result<Vec<u8>, String> {
    run_in(ctx, Room::Installer { job, writable }, tool, args).await
}

/// Runs a build from source (`tool` with `args`) in a sandbox of its own, with `folder`'s
/// `work/` at `/build` (see [`super::sources`]); its standard output, or why it failed.
pub async fn build(
    ctx: &Ctx,
    folder: &Path,
    tool: Tool,
    args: &[String],
) -> Result<Vec<u8>, String> {
    run_in(ctx, Room::Builder { folder }, tool, args).await
}

async fn run_in(ctx: &Ctx, room: Room<'_>, tool: Tool, args: &[String]) -> Result<Vec<u8>, String> {
    let cfg = &ctx.packages;
    let Some(bwrap) = &cfg.bwrap else {
        return Err(
            "Python packages are installed only inside the sandbox, which is off \
             (EXECGOV_SANDBOX=off)"
                .into(),
        );
    };
    let (chosen, what, home) = match room {
        Room::Installer { .. } => (cfg.build_uid, "the installer", CACHE),
        Room::Builder { .. } => (
            cfg.source_builds.as_ref().and_then(|b| b.uid),
            "a build from source",
            BUILD,
        ),
    };
    let (uid, gid) = match chosen {
        Some(uid) => (uid, uid),
        None => (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        ),
    };
    if uid == 0 {
        return Err(format!("refusing to run {what} as root"));
    }
    // Written, not passed through pipes, into a folder the sandboxed uid cannot write: the
    // installer's job folder, or a build's folder (its `work/` is the build's).
    let ids_dir = match room {
        Room::Installer { job, .. } => job,
        Room::Builder { folder } => folder,
    };
    let passwd = ids_dir.join("passwd");
    let group = ids_dir.join("group");
    let ids = async {
        tokio::fs::write(
            &passwd,
            format!("root:x:0:0:root:/root:/usr/sbin/nologin\ninstaller:x:{uid}:{gid}::{home}:/usr/sbin/nologin\n"),
        )
        .await?;
        tokio::fs::write(&group, format!("root:x:0:\ninstaller:x:{gid}:\n")).await
    };
    ids.await.map_err(super::internal)?;

    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&["--unshare-all"]);
    if let Room::Installer { .. } = room {
        push(&["--share-net"]);
    }
    push(&[
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
    ]);
    engine::sandbox::top_level_args(&mut a);
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&[
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/etc",
    ]);
    for etc in ETC {
        push(&["--ro-bind-try", etc, etc]);
    }
    let mut bind = |how: &str, from: &Path, to: &str| {
        a.extend([how.into(), from.into(), to.into()]);
    };
    bind("--ro-bind", &passwd, "/etc/passwd");
    bind("--ro-bind", &group, "/etc/group");
    let measured = match room {
        Room::Installer { job, writable } => {
            bind("--ro-bind", job, "/job");
            bind(
                "--bind",
                &super::environments_dir(ctx).join(CACHE_DIR),
                CACHE,
            );
            if let Some(dir) = writable {
                bind("--bind", dir, ENV);
            }
            writable.map(Path::to_path_buf)
        }
        Room::Builder { folder } => {
            let work = folder.join("work");
            bind("--bind", &work, BUILD);
            Some(work)
        }
    };
    if let PackageIndex::Wheelhouse(dir) = &cfg.index {
        bind("--ro-bind", dir, WHEELHOUSE);
    }
    let program = match tool {
        Tool::Uv => {
            let uv = cfg.uv.as_deref().ok_or("uv is not configured")?;
            bind("--ro-bind", uv, UV);
            UV.to_string()
        }
        Tool::Python => cfg.python.to_string_lossy().into_owned(),
    };
    let mut env = vec![
        ("HOME".to_string(), home.to_string()),
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("UV_NO_PROGRESS".to_string(), "1".to_string()),
        ("PIP_NO_INPUT".to_string(), "1".to_string()),
    ];
    if let Room::Installer { .. } = room {
        for name in PASSED_ENV {
            if let Ok(value) = std::env::var(name) {
                env.push((name.to_string(), value));
            }
        }
    }
    for (k, v) in env {
        a.extend(["--setenv".into(), k.into(), v.into()]);
    }
    let chdir = match room {
        Room::Installer { .. } => "/job",
        Room::Builder { .. } => BUILD,
    };
    a.extend(["--chdir".into(), chdir.into(), "--".into(), program.into()]);
    a.extend(args.iter().map(OsString::from));

    let mut cmd = tokio::process::Command::new(bwrap);
    cmd.args(&a)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if chosen.is_some() {
        // bubblewrap started by root would write files as root: the uid is dropped first (std
        // also drops the supplementary groups).
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("the sandbox of {what} could not start: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(super::internal("the installer's output is not piped"));
    };
    let (stdout, stderr) = (read_all(stdout), read_all(stderr));
    // Stopped (killed on drop, with everything in its sandbox) past its time or its size cap,
    // while it installs: a package too big for the cap never fills the disk first.
    let status = tokio::select! {
        status = child.wait() => status.map_err(super::internal)?,
        _ = tokio::time::sleep(cfg.timeout) => {
            return Err(format!(
                "{what} took longer than {} s and was stopped",
                cfg.timeout.as_secs()
            ))
        }
        () = outgrown(measured.as_deref(), cfg.size_cap) => {
            let cap = cfg.size_cap / (1024 * 1024);
            return Err(match room {
                Room::Installer { .. } => format!(
                    "the environment grew past the {cap} MiB allowed while it was installed, \
                     and the installer was stopped"
                ),
                Room::Builder { .. } => format!(
                    "a build from source grew past the {cap} MiB allowed and was stopped"
                ),
            });
        }
    };
    let joined = |r: Result<std::io::Result<Vec<u8>>, tokio::task::JoinError>| {
        r.map_err(super::internal)?.map_err(super::internal)
    };
    let (stdout, stderr) = (joined(stdout.await)?, joined(stderr.await)?);
    if status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&stderr);
    Err(tail(stderr.trim(), 4000))
}

/// Reads a pipe to its end in a task of its own (both pipes at once: neither fills and stalls).
fn read_all<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut pipe: R,
) -> tokio::task::JoinHandle<std::io::Result<Vec<u8>>> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut bytes).await?;
        Ok(bytes)
    })
}

/// Resolves once the folder being written (if any) holds more than `cap` bytes; otherwise
/// never.
async fn outgrown(writable: Option<&Path>, cap: u64) {
    let Some(dir) = writable else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(SIZE_CHECK_EVERY).await;
        let dir = dir.to_path_buf();
        let size = tokio::task::spawn_blocking(move || super::size_of(&dir))
            .await
            .unwrap_or(0);
        if size > cap {
            return;
        }
    }
}

/// The last `max` bytes of `text` (the end of an installer's message says what failed).
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
