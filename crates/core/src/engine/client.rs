//! Connecting to an engine's API with bollard, negotiating the API version.

use std::time::Duration;

use bollard::Docker;

use crate::error::{Error, Result};

/// Default per-request timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

static API_TIMEOUT_SECS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(DEFAULT_TIMEOUT_SECS);

/// Sets how long an ordinary API exchange may take in this process (`[timeouts] api` in the
/// settings): connecting and negotiating, and each request of the listing and status calls.
pub fn set_api_timeout(limit: Duration) {
    API_TIMEOUT_SECS.store(limit.as_secs().max(1), std::sync::atomic::Ordering::Relaxed);
}

/// See [`set_api_timeout`].
pub fn api_timeout() -> Duration {
    Duration::from_secs(API_TIMEOUT_SECS.load(std::sync::atomic::Ordering::Relaxed))
}

/// Runs `fut` under the API time limit; an engine that accepts and never answers is an error
/// naming it, not a hang.
pub async fn within<T>(
    host: &str,
    what: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let limit = api_timeout();
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Engine {
            host: host.to_string(),
            message: format!(
                "{what}: no answer within {} s (settings: [timeouts] api)",
                limit.as_secs()
            ),
        }),
    }
}

/// A bollard client for `host` (`unix:///path`, `tcp://h:p`, `http://h:p`), with the API version
/// negotiated down to what the daemon speaks. On a unix socket this asks `/_ping` (as the docker
/// CLI does) rather than `/version`, which makes dockerd run `runc --version` and is slow.
/// Connecting and negotiating take at most the API time limit ([`api_timeout`]);
/// `timeout_secs` bounds each later request (until its response headers arrive).
#[tracing::instrument(level = "debug")]
pub async fn connect(host: &str, timeout_secs: u64) -> Result<Docker> {
    within(host, "connecting", connect_unbounded(host, timeout_secs)).await
}

async fn connect_unbounded(host: &str, timeout_secs: u64) -> Result<Docker> {
    if let Some(path) = host.strip_prefix("unix://") {
        if let Some((major, minor)) = ping_api_version(path).await {
            let ours = bollard::API_DEFAULT_VERSION;
            let version = if (major, minor) < (ours.major_version, ours.minor_version) {
                bollard::ClientVersion {
                    major_version: major,
                    minor_version: minor,
                }
            } else {
                bollard::ClientVersion {
                    major_version: ours.major_version,
                    minor_version: ours.minor_version,
                }
            };
            return Docker::connect_with_unix(path, timeout_secs, &version)
                .map_err(|e| engine_error(host, e));
        }
    }
    let docker = raw_client(host, timeout_secs)?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| engine_error(host, e))
}

/// The daemon's API version from the `Api-Version` header of `GET /_ping`.
async fn ping_api_version(socket: &str) -> Option<(usize, usize)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::UnixStream::connect(socket).await.ok()?;
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        // Stop at the end of the headers: waiting for the server to close costs milliseconds.
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_api_version_header(&String::from_utf8_lossy(&buf))
    };
    tokio::time::timeout(api_timeout().min(Duration::from_secs(5)), fut)
        .await
        .ok()
        .flatten()
}

fn parse_api_version_header(response: &str) -> Option<(usize, usize)> {
    let line = response
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("api-version:"))?;
    let v = line.split_once(':')?.1.trim();
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
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

/// Whether `/_ping` answers within `timeout`, without an async runtime (discovery runs on a
/// blocking thread). Unix sockets and `tcp://` addresses; anything else does not answer.
pub fn ping_blocking(host: &str, timeout: Duration) -> bool {
    use std::io::{Read, Write};
    fn ask(mut s: impl Read + Write) -> Option<bool> {
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut buf = [0u8; 64];
        let mut n = 0;
        while n < 12 {
            let got = s.read(&mut buf[n..]).ok()?;
            if got == 0 {
                break;
            }
            n += got;
        }
        let head = String::from_utf8_lossy(&buf[..n]);
        Some(head.starts_with("HTTP/1.") && head.get(9..12) == Some("200"))
    }
    if let Some(path) = host.strip_prefix("unix://") {
        let Ok(s) = std::os::unix::net::UnixStream::connect(path) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(timeout));
        let _ = s.set_write_timeout(Some(timeout));
        return ask(s).unwrap_or(false);
    }
    let addr = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"));
    let Some(addr) = addr.and_then(|a| {
        use std::net::ToSocketAddrs;
        a.to_socket_addrs().ok()?.next()
    }) else {
        return false;
    };
    let Ok(s) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    ask(s).unwrap_or(false)
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
        // hyper's words for a connection that broke under a request (the engine died, or
        // closed it): say it so, keeping hyper's words for whoever debugs it.
        B::HyperLegacyError { err } => format!("the connection to the engine was lost ({err})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_version_header() {
        let r = "HTTP/1.0 200 OK\r\nApi-Version: 1.45\r\nDocker-Experimental: false\r\n\r\nOK";
        assert_eq!(parse_api_version_header(r), Some((1, 45)));
        assert_eq!(parse_api_version_header("HTTP/1.0 200 OK\r\n\r\n"), None);
    }
}
