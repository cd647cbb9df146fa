//! Packages published only as source, built into wheels when the platform allows it
//! (`EXECGOV_PYTHON_ALLOW_BUILDS=1`; off by default, and then they are refused).
//!
//! Building runs a package's own code (its `setup.py`, its build backend), so it never happens
//! where the installer works: each step runs in a sandbox of its own ([`sandbox::build`]) with no
//! network, as its own uid (neither the installer's nor a run's), in a fresh folder with a
//! throwaway uv cache; the installers' shared cache is not there to poison. Sources and build
//! backends come from the offline wheelhouse (`EXECGOV_PYTHON_WHEELHOUSE`) only:
//!
//! - at submission, when the declared packages cannot be resolved into wheels, they are
//!   resolved again in that sandbox with sdists allowed (uv reads an sdist's static metadata;
//!   one without runs its metadata hook there, contained like a build). The lock pins the sdist
//!   by its hash and names it `# built from source` ([`lock::FROM_SOURCE`]), for the reviewer;
//! - when the environment is built, each such sdist is copied from the wheelhouse into a fresh
//!   folder, checked against the lock's hash, and built into a wheel there (`uv build`, the
//!   backend installed from the wheelhouse inside the sandbox). The one wheel that comes out,
//!   named for the locked package and version, is then installed like the others.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{internal, lock, requirements, sandbox, Job, PackageIndex, Tool};
use crate::Ctx;

/// Resolves the job's `requirements.in` with sdists allowed, in a build sandbox; the lock's text,
/// its packages built from source named at its end.
pub(super) async fn resolve(ctx: &Ctx, job: &Job) -> Result<String, String> {
    let folder = Folder::new(ctx, job, "resolve").await?;
    let copied = tokio::fs::copy(
        job.dir.join("requirements.in"),
        folder.work().join("requirements.in"),
    )
    .await;
    copied.map_err(internal)?;
    let python = ctx.packages.python.to_string_lossy().into_owned();
    let args = uv_args(&[
        "pip",
        "compile",
        "requirements.in",
        "--format",
        "pylock.toml",
        "--no-header",
        "--quiet",
        "--python",
        &python,
    ]);
    let out = sandbox::build(ctx, &folder.path, Tool::Uv, &args).await;
    folder.remove().await;
    lock_from_pylock(&String::from_utf8_lossy(&out?))
}

/// Builds the wheels of the packages `lock` builds from source, into `job`'s `built/`; their
/// paths as the installer sees them (`/job/built/…`).
pub(super) async fn build_wheels(ctx: &Ctx, job: &Job, lock: &str) -> Result<Vec<String>, String> {
    let sources = lock::from_source(lock);
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    if ctx.packages.source_builds.is_none() || ctx.packages.uv.is_none() {
        let names: Vec<String> = sources.iter().map(|(n, v)| format!("{n} {v}")).collect();
        return Err(format!(
            "{} published only as source, and building from source is off on this platform \
             (EXECGOV_PYTHON_ALLOW_BUILDS=1 with uv turns it on)",
            names.join(", ")
        ));
    }
    let built = job.dir.join("built");
    let make = async {
        tokio::fs::create_dir(&built).await?;
        tokio::fs::set_permissions(&built, std::fs::Permissions::from_mode(0o755)).await
    };
    make.await.map_err(internal)?;
    let mut wheels = Vec::new();
    for (name, version) in &sources {
        let folder = Folder::new(ctx, job, "source").await?;
        let wheel = build_one(ctx, &folder, lock, name, version).await;
        let placed = match wheel {
            Ok(wheel) => place_wheel(&wheel, &built).await,
            Err(e) => Err(e),
        };
        folder.remove().await;
        wheels.push(format!("/job/built/{}", placed?));
    }
    Ok(wheels)
}

/// The wheel built from `name` `version`'s sdist in `folder`.
async fn build_one(
    ctx: &Ctx,
    folder: &Folder,
    lock: &str,
    name: &str,
    version: &str,
) -> Result<PathBuf, String> {
    let PackageIndex::Wheelhouse(wheelhouse) = &ctx.packages.index else {
        return Err("building from source needs the offline wheelhouse \
                    (EXECGOV_PYTHON_WHEELHOUSE)"
            .into());
    };
    let sdist = fetch_sdist(wheelhouse, &folder.work(), lock, name, version).await?;
    let python = ctx.packages.python.to_string_lossy().into_owned();
    let args = uv_args(&[
        "build",
        "--wheel",
        "--python",
        &python,
        "--out-dir",
        "out",
        &sdist,
    ]);
    sandbox::build(ctx, &folder.path, Tool::Uv, &args)
        .await
        .map_err(|e| format!("{name} {version} could not be built from source: {e}"))?;
    built_wheel(&folder.work().join("out"), name, version)
}

/// uv's arguments for a step in a build sandbox: offline, from the wheelhouse only, with the
/// build's own cache.
fn uv_args(head: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = head.iter().map(|a| a.to_string()).collect();
    args.extend(
        [
            "--offline",
            "--no-index",
            "--find-links",
            sandbox::WHEELHOUSE,
            "--no-python-downloads",
            "--cache-dir",
            "cache",
        ]
        .map(String::from),
    );
    args
}

/// Copies `name` `version`'s sdist from the wheelhouse into `work`, checked against the lock's
/// hashes (the copy is what is checked and built); its file name.
async fn fetch_sdist(
    wheelhouse: &Path,
    work: &Path,
    lock: &str,
    name: &str,
    version: &str,
) -> Result<String, String> {
    let hashes = lock::hashes_of(lock, name, version);
    let mut rd = tokio::fs::read_dir(wheelhouse).await.map_err(internal)?;
    let mut seen = false;
    while let Some(entry) = rd.next_entry().await.map_err(internal)? {
        let file = entry.file_name().to_string_lossy().into_owned();
        if sdist_of(&file) != Some((name.to_string(), version.to_string())) {
            continue;
        }
        seen = true;
        let copy = work.join(&file);
        tokio::fs::copy(entry.path(), &copy)
            .await
            .map_err(internal)?;
        let bytes = tokio::fs::read(&copy).await.map_err(internal)?;
        if hashes.contains(&hex::encode(Sha256::digest(&bytes))) {
            return Ok(file);
        }
        tokio::fs::remove_file(&copy).await.map_err(internal)?;
    }
    Err(if seen {
        format!(
            "the source of {name} {version} in the wheelhouse does not match the lock's hash: \
             it changed since it was reviewed, and nothing was built"
        )
    } else {
        format!("the wheelhouse has no source distribution of {name} {version}")
    })
}

/// The (normalised name, version) an sdist's file name stands for (`name-version.tar.gz` or
/// `.zip`), if it is one.
fn sdist_of(file: &str) -> Option<(String, String)> {
    let stem = file
        .strip_suffix(".tar.gz")
        .or_else(|| file.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((requirements::normalize(name), version.to_string()))
}

/// The one wheel a build left in `out` (uv adds a `.gitignore`), if it is a plain file named
/// for `name` `version`: a build may make only the package that was reviewed.
fn built_wheel(out: &Path, name: &str, version: &str) -> Result<PathBuf, String> {
    // The build made `out` itself: a link would lead the server elsewhere.
    if !std::fs::symlink_metadata(out).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "the build of {name} {version} made no wheel folder"
        ));
    }
    let wheels: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(|e| format!("the build of {name} {version} made no wheel: {e}"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    let [wheel] = wheels.as_slice() else {
        return Err(format!(
            "the build of {name} {version} made {} wheels instead of one",
            wheels.len()
        ));
    };
    let file = wheel
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = file.strip_suffix(".whl").unwrap_or_default().split('-');
    let (made_name, made_version) = (parts.next().unwrap_or_default(), parts.next());
    let plain = std::fs::symlink_metadata(wheel).is_ok_and(|m| m.is_file());
    if !plain || requirements::normalize(made_name) != name || made_version != Some(version) {
        return Err(format!(
            "the build of {name} {version} made `{file}`, not a wheel of {name} {version}"
        ));
    }
    Ok(wheel.clone())
}

/// Copies a built wheel into `built` (the server's, readable by the installer); its file name.
async fn place_wheel(wheel: &Path, built: &Path) -> Result<String, String> {
    let file = wheel
        .file_name()
        .ok_or_else(|| internal("a wheel without a name"))?;
    let target = built.join(file);
    let copy = async {
        tokio::fs::copy(wheel, &target).await?;
        tokio::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).await
    };
    copy.await.map_err(internal)?;
    Ok(file.to_string_lossy().into_owned())
}

/// A pylock.toml (PEP 751) from `uv pip compile` as a lock: every file's hash per package, and
/// the packages with an sdist but no wheel named as built from source.
fn lock_from_pylock(text: &str) -> Result<String, String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("the resolver's pylock.toml: {e}"))?;
    let mut pins = Vec::new();
    let mut sources = Vec::new();
    for package in table
        .get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let field = |key: &str| package.get(key).and_then(|v| v.as_str()).unwrap_or("");
        let (name, version) = (requirements::normalize(field("name")), field("version"));
        let sha256 = |file: &toml::Value| {
            file.get("hashes")?
                .get("sha256")?
                .as_str()
                .map(str::to_string)
        };
        let wheels: Vec<String> = package
            .get("wheels")
            .and_then(|w| w.as_array())
            .into_iter()
            .flatten()
            .filter_map(sha256)
            .collect();
        let sdist = package.get("sdist").and_then(sha256);
        if name.is_empty() || version.is_empty() || (wheels.is_empty() && sdist.is_none()) {
            return Err(format!(
                "the resolver's pylock.toml lacks a name, version or hash: {package}"
            ));
        }
        if wheels.is_empty() {
            sources.push(format!("{}{name}=={version}\n", lock::FROM_SOURCE));
        }
        let hashes: Vec<String> = wheels
            .into_iter()
            .chain(sdist)
            .map(|h| format!("    --hash=sha256:{h}"))
            .collect();
        pins.push(format!("{name}=={version} \\\n{}\n", hashes.join(" \\\n")));
    }
    pins.sort();
    Ok(pins.concat() + &sources.concat())
}

/// A build sandbox's folder inside a job: `passwd`/`group` (the server's) beside `work/` (the
/// build uid's own, mounted at `/build`).
struct Folder {
    path: PathBuf,
}

impl Folder {
    async fn new(ctx: &Ctx, job: &Job, what: &str) -> Result<Folder, String> {
        let path = job
            .dir
            .join(format!(".{what}-{:016x}", rand::random::<u64>()));
        let uid = ctx.packages.source_builds.as_ref().and_then(|b| b.uid);
        let make = || -> std::io::Result<()> {
            // The job's folder is traversed by the build uid to reach its own.
            std::fs::set_permissions(&job.dir, std::fs::Permissions::from_mode(0o755))?;
            std::fs::create_dir(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            let work = path.join("work");
            std::fs::create_dir(&work)?;
            std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700))?;
            if let Some(uid) = uid {
                std::os::unix::fs::chown(&work, Some(uid), Some(uid))?;
            }
            Ok(())
        };
        make().map_err(internal)?;
        Ok(Folder { path })
    }

    fn work(&self) -> PathBuf {
        self.path.join("work")
    }

    async fn remove(self) {
        if let Err(e) = tokio::fs::remove_dir_all(&self.path).await {
            tracing::warn!(dir = %self.path.display(), error = %e, "removing a build folder failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pylock_becomes_a_lock_naming_what_is_built_from_source() {
        let pylock = r#"
lock-version = "1.0"
[[packages]]
name = "Tiny_Pkg"
version = "1.0"
sdist = { url = "file:///wheelhouse/tiny_pkg-1.0.tar.gz", hashes = { sha256 = "ee" } }
[[packages]]
name = "six"
version = "1.16.0"
wheels = [{ url = "file:///wheelhouse/six.whl", hashes = { sha256 = "aa" } }]
sdist = { url = "file:///wheelhouse/six-1.16.0.tar.gz", hashes = { sha256 = "bb" } }
"#;
        let text = lock_from_pylock(pylock).unwrap();
        assert_eq!(
            text,
            "six==1.16.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n\
             tiny-pkg==1.0 \\\n    --hash=sha256:ee\n# built from source: tiny-pkg==1.0\n"
        );
        assert_eq!(lock::wheels_only(&text).lines().count(), 3);
        assert!(lock_from_pylock("[[packages]]\nname = \"x\"\nversion = \"1\"\n").is_err());
    }

    #[test]
    fn sdists_and_built_wheels_are_known_by_their_names() {
        assert_eq!(
            sdist_of("Tiny.Pkg-1.0.tar.gz"),
            Some(("tiny-pkg".into(), "1.0".into()))
        );
        assert_eq!(sdist_of("tiny_pkg-2.0rc1.zip").unwrap().1, "2.0rc1");
        assert_eq!(sdist_of("tiny_pkg-1.0-py3-none-any.whl"), None);

        let out = std::env::temp_dir().join(format!("execgov-built-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let wheel = out.join("tiny_pkg-1.0-py3-none-any.whl");
        std::fs::write(&wheel, b"zip").unwrap();
        assert_eq!(built_wheel(&out, "tiny-pkg", "1.0").unwrap(), wheel);
        let err = built_wheel(&out, "six", "1.0").unwrap_err();
        assert!(err.contains("not a wheel of six 1.0"), "{err}");
        std::fs::write(out.join("six-1.16.0-py3-none-any.whl"), b"zip").unwrap();
        let err = built_wheel(&out, "tiny-pkg", "1.0").unwrap_err();
        assert!(err.contains("made 2 wheels"), "{err}");
        std::fs::write(out.join(".gitignore"), b"*").unwrap();
        std::fs::remove_file(out.join("six-1.16.0-py3-none-any.whl")).unwrap();
        assert_eq!(built_wheel(&out, "tiny-pkg", "1.0").unwrap(), wheel);
        let link = out.with_extension("link");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        assert!(built_wheel(&link, "tiny-pkg", "1.0").is_err());
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }
}
