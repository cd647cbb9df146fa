//! Per-run cgroups: the kernel holds a run's total memory and its number of tasks.
//!
//! Each pool uid has a cgroup of its own (`uid-<uid>`), made when it first serves a sandbox and
//! kept: bubblewrap joins it before it execs (`spawn::Spec::cgroups`), so everything the run
//! starts is in it, and its limits are set for each run when the run is put in
//! ([`RunCgroup::limit`]). A uid serves one run at a time, so its cgroup is that run's.
//!
//! cgroup v2 where the server's own cgroup has the memory and pids controllers delegated to it;
//! else the v1 memory and pids hierarchies where they are mounted writable (containers on
//! cgroup v1 hosts often are); else none, and a run's memory is kept by its process count
//! (`Limits::process_cap`). Root only: nobody else may make cgroups or move processes.
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Where the runs' cgroups are made.
#[derive(Clone, Debug)]
pub struct Cgroups {
    layout: Layout,
}

#[derive(Clone, Debug)]
enum Layout {
    /// One folder holds both controllers.
    V2 { runs: PathBuf },
    /// One folder per controller's hierarchy.
    V1 { memory: PathBuf, pids: PathBuf },
}

/// One uid's cgroup (both folders of it on v1).
#[derive(Clone, Debug)]
pub struct RunCgroup {
    layout: Layout,
}

/// The folder under the server's own cgroup where the runs' cgroups go.
const RUNS: &str = "execgov-runs";
/// On v2, where the server moves itself so that its own cgroup may hand controllers down
/// (a v2 cgroup with processes of its own cannot).
const SERVER: &str = "execgov-server";

impl Cgroups {
    /// What this host offers, made ready; `None` (with the reason logged) when nothing usable.
    pub fn detect() -> Option<Cgroups> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mounts = parse_mounts(&mounts);
        let v2 = v2_dir(&own, &mounts).map(|dir| set_up_v2(&dir));
        match v2 {
            Some(Ok(layout)) => return Some(Cgroups { layout }),
            Some(Err(e)) => tracing::info!(error = %e, "cgroup v2 controllers not delegated"),
            None => {}
        }
        let v1 = (|| -> io::Result<Layout> {
            let memory = v1_dir(&own, &mounts, "memory")
                .ok_or_else(|| io::Error::other("no v1 memory hierarchy"))?
                .join(RUNS);
            let pids = v1_dir(&own, &mounts, "pids")
                .ok_or_else(|| io::Error::other("no v1 pids hierarchy"))?
                .join(RUNS);
            fs::create_dir_all(&memory)?;
            fs::create_dir_all(&pids)?;
            Ok(Layout::V1 { memory, pids })
        })();
        match v1 {
            Ok(layout) => Some(Cgroups { layout }),
            Err(e) => {
                tracing::info!(error = %e, "no writable cgroup v1 memory and pids hierarchies");
                None
            }
        }
    }

    /// For the start-up log.
    pub fn describe(&self) -> &'static str {
        match self.layout {
            Layout::V2 { .. } => "cgroup v2",
            Layout::V1 { .. } => "cgroup v1 (memory and pids hierarchies)",
        }
    }

    /// The cgroup of pool uid `uid`, made if need be.
    pub fn for_uid(&self, uid: u32) -> io::Result<RunCgroup> {
        let name = format!("uid-{uid}");
        let layout = match &self.layout {
            Layout::V2 { runs } => Layout::V2 {
                runs: runs.join(&name),
            },
            Layout::V1 { memory, pids } => Layout::V1 {
                memory: memory.join(&name),
                pids: pids.join(&name),
            },
        };
        let cgroup = RunCgroup { layout };
        for dir in cgroup.dirs() {
            match fs::create_dir(dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
        Ok(cgroup)
    }
}

impl RunCgroup {
    fn dirs(&self) -> Vec<&Path> {
        match &self.layout {
            Layout::V2 { runs } => vec![runs],
            Layout::V1 { memory, pids } => vec![memory, pids],
        }
    }

    fn memory_dir(&self) -> &Path {
        match &self.layout {
            Layout::V2 { runs } => runs,
            Layout::V1 { memory, .. } => memory,
        }
    }

    /// Its `cgroup.procs` files, open for writing: the spawned child writes its pid into each.
    pub fn join_files(&self) -> io::Result<Vec<OwnedFd>> {
        self.dirs()
            .into_iter()
            .map(|d| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("cgroup.procs"))
                    .map(OwnedFd::from)
            })
            .collect()
    }

    /// Sets the run's limits: `memory` bytes in all (no swap on top) and `tasks` processes and
    /// threads. From then on the watch tells whether the kernel killed for want of memory.
    pub fn limit(&self, memory: u64, tasks: u64) -> io::Result<OomWatch> {
        let memory = memory.to_string();
        match &self.layout {
            Layout::V2 { runs } => {
                fs::write(runs.join("memory.max"), &memory)?;
                // Absent without swap accounting.
                write_if_present(&runs.join("memory.swap.max"), "0")?;
                fs::write(runs.join("pids.max"), tasks.to_string())?;
            }
            Layout::V1 { memory: dir, pids } => {
                // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes (memory
                // plus swap): lowered first, raised second.
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if fs::write(dir.join("memory.limit_in_bytes"), &memory).is_err() {
                    write_if_present(&memsw, &memory)?;
                    fs::write(dir.join("memory.limit_in_bytes"), &memory)?;
                }
                write_if_present(&memsw, &memory)?;
                fs::write(pids.join("pids.max"), tasks.to_string())?;
            }
        }
        Ok(OomWatch {
            before: self.oom_kills(),
            cgroup: self.clone(),
        })
    }

    /// How many processes the kernel has killed in this cgroup for want of memory, ever.
    fn oom_kills(&self) -> u64 {
        let file = match self.layout {
            Layout::V2 { .. } => "memory.events",
            Layout::V1 { .. } => "memory.oom_control",
        };
        fs::read_to_string(self.memory_dir().join(file))
            .map(|text| counter(&text, "oom_kill"))
            .unwrap_or(0)
    }
}

/// A cgroup's out-of-memory kills, counted from when its run's limits were set.
#[derive(Debug)]
pub struct OomWatch {
    cgroup: RunCgroup,
    before: u64,
}

impl OomWatch {
    /// Whether the kernel has killed a process of the run for going over its memory limit.
    pub fn fired(&self) -> bool {
        self.cgroup.oom_kills() > self.before
    }
}

fn write_if_present(path: &Path, value: &str) -> io::Result<()> {
    match fs::write(path, value) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The value of `key` in a flat-keyed cgroup file (`key value` lines); 0 when absent.
fn counter(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A cgroup file system as mounted: its type, what it holds (v1: its controllers), the cgroup
/// it shows at its root, and where.
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    fs_type: String,
    options: Vec<String>,
    root: String,
    at: PathBuf,
}

/// The cgroup mounts in `/proc/self/mountinfo`
/// (`id parent dev root mountpoint options [optional…] - fstype source superoptions`).
fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fs_type = right.next()?;
            if fs_type != "cgroup" && fs_type != "cgroup2" {
                return None;
            }
            let _source = right.next()?;
            let options = right.next().unwrap_or("").split(',').map(String::from);
            Some(Mount {
                fs_type: fs_type.to_string(),
                options: options.collect(),
                root: super::warm::unescape_mount_path(left.get(3)?),
                at: PathBuf::from(super::warm::unescape_mount_path(left.get(4)?)),
            })
        })
        .collect()
}

/// The folder of cgroup `path` in `mount`, when the mount shows it.
fn folder_in(mount: &Mount, path: &str) -> Option<PathBuf> {
    let rest = path.strip_prefix(mount.root.trim_end_matches('/'))?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(mount.at.join(rest.trim_start_matches('/')))
}

/// The server's own v2 cgroup folder (`0::/path` in `/proc/self/cgroup`), when it has the
/// memory and pids controllers.
fn v2_dir(own: &str, mounts: &[Mount]) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mounts
        .iter()
        .filter(|m| m.fs_type == "cgroup2")
        .find_map(|m| folder_in(m, path))?;
    let controllers = fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    let has = |c| controllers.split_whitespace().any(|x| x == c);
    (has("memory") && has("pids")).then_some(dir)
}

/// The server's own folder in the v1 hierarchy of `controller`.
fn v1_dir(own: &str, mounts: &[Mount], controller: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })?;
    mounts
        .iter()
        .filter(|m| m.fs_type == "cgroup" && m.options.iter().any(|o| o == controller))
        .find_map(|m| folder_in(m, path))
}

/// Hands the memory and pids controllers down from the server's own v2 cgroup `dir` to
/// `dir/execgov-runs/`, moving the server into `dir/execgov-server/` first when `dir` holds
/// processes (a v2 cgroup that hands controllers down may not).
fn set_up_v2(dir: &Path) -> io::Result<Layout> {
    let enable = |d: &Path| fs::write(d.join("cgroup.subtree_control"), "+memory +pids");
    if enable(dir).is_err() {
        let server = dir.join(SERVER);
        match fs::create_dir(&server) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        fs::write(server.join("cgroup.procs"), std::process::id().to_string())?;
        enable(dir)?;
    }
    let runs = dir.join(RUNS);
    match fs::create_dir(&runs) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    enable(&runs)?;
    Ok(Layout::V2 { runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const OWN_V1: &str = "\
8:pids:/
4:memory:/process_api/abc
0::/
";

    #[test]
    fn v1_folders_are_found_under_each_controllers_mount() {
        let mounts = parse_mounts(MOUNTINFO_V1);
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            v1_dir(OWN_V1, &mounts, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
        );
        assert_eq!(
            v1_dir(OWN_V1, &mounts, "pids"),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert_eq!(v1_dir(OWN_V1, &mounts, "blkio"), None);
    }

    #[test]
    fn a_mount_of_a_sub_cgroup_maps_paths_below_its_root_only() {
        let mounts =
            parse_mounts("50 31 0:40 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        let m = &mounts[0];
        assert_eq!(folder_in(m, "/ctr"), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(
            folder_in(m, "/ctr/app"),
            Some(PathBuf::from("/sys/fs/cgroup/app"))
        );
        assert_eq!(folder_in(m, "/ctrl"), None);
        assert_eq!(folder_in(m, "/other"), None);
    }

    #[test]
    fn counters_are_read_by_key() {
        assert_eq!(
            counter("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            3
        );
        assert_eq!(
            counter("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n", "oom_kill"),
            1
        );
        assert_eq!(counter("", "oom_kill"), 0);
    }
}
