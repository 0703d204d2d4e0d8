//! A real local registry for one test: Debian's `docker-registry` (distribution 2.8) serving plain
//! HTTP on `127.0.0.1:<free port>`, with its storage and config in a temp dir and, optionally,
//! htpasswd basic auth (`htpasswd -B`, apache2-utils). Stopped by its PID on drop, also when a
//! test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{stop_child, wait_until_answers, PrivateDaemon};

/// Why a local registry cannot run here, if it cannot.
pub fn registry_unavailable() -> Option<String> {
    for (bin, pkg) in [
        ("docker-registry", "docker-registry"),
        ("htpasswd", "apache2-utils"),
    ] {
        if crate::engine_bin(bin).is_none() {
            return Some(format!(
                "{bin} is not installed (scripts/install-deps.sh installs {pkg})"
            ));
        }
    }
    None
}

/// Fails a test (see [`crate::require!`]) when no local registry can run here.
#[macro_export]
macro_rules! require_registry {
    () => {
        $crate::require!($crate::registry::registry_unavailable(), "a local registry")
    };
}

/// A running `docker-registry`.
pub struct LocalRegistry {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// `(user, password)` when it asks for a login.
    pub login: Option<(String, String)>,
}

impl LocalRegistry {
    /// A registry anyone can pull from and push to.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A registry with htpasswd basic auth for `user`/`password` (401 without a login).
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_inner(Some((user.to_string(), password.to_string())))
    }

    fn start_inner(login: Option<(String, String)>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stwreg")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let port = crate::e2e::free_port();
        let host = format!("127.0.0.1:{port}");
        let root = dir.path();
        let mut auth = String::new();
        if let Some((user, password)) = &login {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("run htpasswd");
            assert!(out.status.success(), "htpasswd: {out:?}");
            std::fs::write(root.join("htpasswd"), &out.stdout).expect("write htpasswd");
            auth = format!(
                "auth:\n  htpasswd:\n    realm: stowage-test\n    path: {}\n",
                root.join("htpasswd").display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n{auth}",
            root.join("data").display()
        );
        std::fs::write(root.join("config.yml"), config).expect("write config.yml");
        let log = std::fs::File::create(root.join("registry.log")).expect("log");
        let child = Command::new(crate::engine_bin("docker-registry").expect("docker-registry"))
            .arg("serve")
            .arg(root.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut r = LocalRegistry {
            dir,
            child: Some(child),
            host,
            login,
        };
        let url = format!("{}:{port}", "127.0.0.1");
        let log_path = r.dir.path().join("registry.log");
        let started = wait_until_answers(
            &mut r.child,
            "docker-registry",
            || answers(&url),
            || std::fs::read_to_string(&log_path).unwrap_or_default(),
        );
        if let Err(e) = started {
            panic!("{e}");
        }
        r
    }

    /// The registry's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("registry.log")).unwrap_or_default()
    }

    /// Where it stores blobs.
    pub fn storage(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// `HOST/repo:tag`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host)
    }

    /// Imports a one-file image on `d` (`docker import`), tags it `HOST/repo_tag`, pushes it
    /// (logging in first when the registry asks for a login, and out after), and removes both
    /// names from `d` again.
    pub fn push_tiny(&self, d: &PrivateDaemon, repo_tag: &str) -> String {
        let reference = self.reference(repo_tag);
        let local = format!("stowage-local/{}", repo_tag.replace('/', "-"));
        d.import_image(&local);
        d.docker_ok(&["tag", &local, &reference]);
        d.docker_ok(&["rmi", &local]);
        if let Some((user, password)) = &self.login {
            self.docker_login(d, user, password);
        }
        d.docker_ok(&["push", &reference]);
        if self.login.is_some() {
            d.docker_ok(&["logout", &self.host]);
        }
        d.docker_ok(&["rmi", &reference]);
        reference
    }

    /// `docker login HOST` on `d`'s CLI config.
    pub fn docker_login(&self, d: &PrivateDaemon, user: &str, password: &str) {
        use std::io::Write;
        let mut child = crate::engine_command("docker")
            .arg("-H")
            .arg(d.host())
            .args(["login", "-u", user, "--password-stdin", &self.host])
            .env("DOCKER_CONFIG", d.docker_config())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker login");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker login {}: {}",
            self.host,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Whether `GET /v2/` answers at all (200, or 401 with auth).
fn answers(host_port: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(host_port) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: registry\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200")
        || buf.starts_with("HTTP/1.1 200")
        || buf.starts_with("HTTP/1.0 401")
        || buf.starts_with("HTTP/1.1 401")
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child, Duration::from_secs(10));
        }
    }
}

/// The `auths[host].auth` value the docker CLI stores for `user:password` (base64).
pub fn basic_auth(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
