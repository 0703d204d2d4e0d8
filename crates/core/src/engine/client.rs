//! Connecting to an engine's API with bollard, negotiating the API version.

use std::time::Duration;

use bollard::Docker;

use crate::error::{Error, Result};

/// Default per-request timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// A bollard client for `host` (`unix:///path`, `tcp://h:p`, `http://h:p`), with the API version
/// negotiated down to what the daemon speaks.
#[tracing::instrument(level = "debug")]
pub async fn connect(host: &str, timeout_secs: u64) -> Result<Docker> {
    let docker = raw_client(host, timeout_secs)?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| engine_error(host, e))
}

/// A client without version negotiation (used to poll `/_ping` while a daemon starts).
pub fn raw_client(host: &str, timeout_secs: u64) -> Result<Docker> {
    let res = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, timeout_secs, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        let addr = host.replacen("tcp://", "http://", 1);
        Docker::connect_with_http(&addr, timeout_secs, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with('/') {
        Docker::connect_with_unix(host, timeout_secs, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(Error::InvalidRequest(format!(
            "unsupported engine address `{host}` (use unix:///path or tcp://host:port)"
        )));
    };
    res.map_err(|e| engine_error(host, e))
}

/// Whether `/_ping` answers within `timeout`.
pub async fn ping(host: &str, timeout: Duration) -> bool {
    let Ok(docker) = raw_client(host, timeout.as_secs().max(1)) else {
        return false;
    };
    matches!(
        tokio::time::timeout(timeout, docker.ping()).await,
        Ok(Ok(_))
    )
}

/// Wraps a bollard error with the engine address.
pub fn engine_error(host: &str, e: bollard::errors::Error) -> Error {
    Error::Engine {
        host: host.to_string(),
        message: describe(&e),
    }
}

fn describe(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => format!("HTTP {status_code}: {message}"),
        B::IOError { err } if err.kind() == std::io::ErrorKind::NotFound => {
            "socket not found (is the engine running?)".into()
        }
        B::IOError { err } if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the engine running?)".into()
        }
        B::IOError { err } if err.kind() == std::io::ErrorKind::PermissionDenied => {
            "permission denied on the socket (are you in the docker group?)".into()
        }
        other => other.to_string(),
    }
}
