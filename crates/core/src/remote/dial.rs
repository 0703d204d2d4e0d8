//! A read-only look at a host's engine without Stowage there: the Engine API over
//! `ssh HOST docker system dial-stdio` (the docker CLI's own ssh transport), spoken with hyper.
//! Nothing is written; this is what `status` shows for a host that has no stowctl.

use std::process::Stdio;

use http_body_util::BodyExt;
use serde::Serialize;

use super::ssh::Ssh;
use crate::engine::store::active_store;
use crate::engine::ImageStore;
use crate::error::{Error, Result};

/// What the Engine API says, read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiStatus {
    /// Where.
    pub host: String,
    /// `ServerVersion`.
    pub engine_version: Option<String>,
    /// The store it runs on, from `DriverStatus`.
    pub active_store: ImageStore,
    /// `Driver` (a graphdriver, or the snapshotter with the containerd store).
    pub driver: Option<String>,
    /// `Images`.
    pub images: Option<i64>,
    /// `Containers`.
    pub containers: Option<i64>,
    /// `ContainersRunning`.
    pub containers_running: Option<i64>,
    /// Why this is all there is: the host has no stowctl.
    pub read_only_because: String,
}

/// `GET /info` over `ssh HOST docker system dial-stdio`, bounded by `limit`.
pub async fn api_status(ssh: &Ssh, limit: std::time::Duration) -> Result<ApiStatus> {
    let host = ssh.target.url();
    let fut = async {
        let info = get(ssh, "/info").await?;
        let driver_status: Vec<Vec<String>> = info
            .get("DriverStatus")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default();
        Ok(ApiStatus {
            host: host.clone(),
            engine_version: info["ServerVersion"].as_str().map(str::to_string),
            active_store: active_store(&driver_status),
            driver: info["Driver"].as_str().map(str::to_string),
            images: info["Images"].as_i64(),
            containers: info["Containers"].as_i64(),
            containers_running: info["ContainersRunning"].as_i64(),
            read_only_because: "stowctl is not installed there: this is what its Engine API says \
                                (over ssh and `docker system dial-stdio`); install Stowage's .deb \
                                there to switch it"
                .into(),
        })
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| Error::Timeout {
            step: format!("reading {host}'s Engine API over ssh"),
            seconds: limit.as_secs(),
        })?
}

/// One GET through a fresh `dial-stdio` session.
async fn get(ssh: &Ssh, path: &str) -> Result<serde_json::Value> {
    let host = ssh.target.url();
    let program = Ssh::program();
    let argv = ssh.args(
        &["docker".into(), "system".into(), "dial-stdio".into()],
        true,
        false,
    );
    let mut child = tokio::process::Command::new(&program)
        .args(&argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Command {
            command: format!("{program} {}", argv.join(" ")),
            message: e.to_string(),
        })?;
    let io = tokio::io::join(
        child.stdout.take().expect("piped"),
        child.stdin.take().expect("piped"),
    );
    let broken = |e: &dyn std::fmt::Display| Error::HostUnreachable {
        host: host.clone(),
        message: format!("the Engine API over `docker system dial-stdio` failed: {e}"),
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| broken(&e))?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("Host", "docker")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| broken(&e))?;
    let resp = sender.send_request(req).await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let mut stderr = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut stderr).await;
            }
            let status = child.wait().await.ok().and_then(|s| s.code());
            return Err(match status {
                Some(super::ssh::SSH_FAILED) => Error::HostUnreachable {
                    host,
                    message: stderr.trim().to_string(),
                },
                _ => broken(&format!("{e}: {}", stderr.trim())),
            });
        }
    };
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| broken(&e))?
        .to_bytes();
    driver.abort();
    let _ = child.kill().await;
    if !status.is_success() {
        return Err(Error::Engine {
            host,
            message: format!("{path}: HTTP {status}"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| broken(&e))
}
