//! Real Prometheus and Alertmanager (Debian's packages) on loopback for one test: each
//! instance gets its own temp dir and free port, and is killed when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, get};

pub struct Instance {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Instance {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The instance's log so far (stderr), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the binaries are here; with `INFRASAGE_TEST_REQUIRE_TOOLS` set a missing one fails.
pub fn available(binary: &str) -> bool {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {binary}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("INFRASAGE_TEST_REQUIRE_TOOLS").is_err(),
            "{binary} is not installed (scripts/install-deps.sh)"
        );
        eprintln!("{binary} is not installed: test not run");
    }
    found
}

/// Writes `files` (name, content) into a fresh dir and starts Prometheus on `prometheus.yml`
/// from it (rule files are referenced by their names, relative to that dir).
pub fn prometheus(config: &str, files: &[(&str, &str)]) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = spawn(
        "prometheus",
        &[
            &format!("--config.file={}", dir.path().join("prometheus.yml").display()),
            &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            &format!("--web.listen-address={addr}"),
            "--web.enable-lifecycle",
        ],
        dir.path(),
    );
    wait_ready(Instance { child, addr, dir })
}

/// Alertmanager on `config` (alertmanager.yml), no clustering (the empty cluster address keeps
/// it off 0.0.0.0:9094).
pub fn alertmanager(config: &str) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alertmanager.yml"), config).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = spawn(
        "prometheus-alertmanager",
        &[
            &format!("--config.file={}", dir.path().join("alertmanager.yml").display()),
            &format!("--storage.path={}", dir.path().join("data").display()),
            &format!("--web.listen-address={addr}"),
            "--cluster.listen-address=",
        ],
        dir.path(),
    );
    wait_ready(Instance { child, addr, dir })
}

fn spawn(binary: &str, args: &[&str], dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("log")).unwrap();
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{binary} does not start: {e}"))
}

fn wait_ready(mut i: Instance) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(&i.addr, "/-/ready").is_some_and(|(s, _)| s == 200) {
            return i;
        }
        if let Ok(Some(status)) = i.child.try_wait() {
            panic!("exited with {status} before it was ready:\n{}", i.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not ready within 30 s:\n{}", i.log());
}

/// A path inside the repository, as a string for config files.
pub fn repo_path(path: &str) -> PathBuf {
    super::repo(path)
}
