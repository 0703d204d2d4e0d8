//! One live probe: the engine pulls an image (`POST /images/create`, the path `docker pull`
//! takes, through the engine's own registry settings: mirrors, insecure registries, certs.d),
//! under a short time limit. The engine's answer, or its error message, is the evidence.
//!
//! A pull, not a manifest look-up (`GET /distribution/NAME/json`): seen on Engine 28.5 with the
//! containerd store, a look-up ignores `certs.d/<host>/hosts.toml` while the pull honours it, so
//! only a pull proves what users will see. The image pulled is one the user named
//! (`--probe-image`), or a placeholder that does not exist (nothing is stored then).

use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::Docker;
use serde::Serialize;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The manifest was found: the engine reached the registry and read the image.
    Found,
    /// The registry answered that it has no such manifest: it is reachable through the engine,
    /// but the image proves nothing about content.
    NotFound,
    /// The registry asked for credentials (401, `insufficient_scope`, `no basic auth credentials`).
    Unauthorized,
    /// The engine spoke HTTPS to a plain-HTTP registry (it is not treated as insecure).
    HttpsToHttp,
    /// The engine does not trust the registry's TLS certificate (`x509: ...`).
    Tls,
    /// Nothing listens at the registry's address (`connect: connection refused`).
    Refused,
    /// The registry's host name does not resolve (`lookup HOST ...: no such host`).
    NameNotResolved,
    /// The engine could not reach the registry, or another error.
    Failed,
    /// The probe did not finish in time.
    Timeout,
}

impl ProbeOutcome {
    /// Whether the registry answered the engine (found, not found, or asked for a login).
    pub fn reached(self) -> bool {
        matches!(
            self,
            ProbeOutcome::Found | ProbeOutcome::NotFound | ProbeOutcome::Unauthorized
        )
    }

    /// Whether a `certs.d/<host>/hosts.toml` (plain HTTP or `skip_verify` for the host) can fix
    /// a probe that ended so: only for how the engine speaks to a registry it reaches (HTTPS to
    /// a plain-HTTP one, a certificate it does not trust); never for a registry that is not
    /// there (refused, a name that does not resolve, no answer).
    pub fn fixed_by_hosts_toml(self) -> bool {
        matches!(self, ProbeOutcome::HttpsToHttp | ProbeOutcome::Tls)
    }

    /// Why a probe of `host` failed and what fixes it, for people (`None`: it did not fail).
    /// The one place these words live: the check's summary, its evidence and its manual fix.
    pub fn failure(self, host: &str) -> Option<String> {
        let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
        Some(match self {
            ProbeOutcome::Found | ProbeOutcome::NotFound | ProbeOutcome::Unauthorized => {
                return None
            }
            ProbeOutcome::HttpsToHttp => format!(
                "the engine spoke HTTPS to {host}, which serves plain HTTP: list it in insecure-registries in daemon.json, or write its certs.d hosts.toml"
            ),
            ProbeOutcome::Tls => format!(
                "the engine does not trust the TLS certificate of {host}: add its CA under certs.d/{host}/, or list it in insecure-registries in daemon.json"
            ),
            ProbeOutcome::Refused => format!(
                "the registry is not listening at {host} (the connection was refused): start it, or correct the address in daemon.json"
            ),
            ProbeOutcome::NameNotResolved => format!(
                "the name {name} does not resolve (DNS): correct the address in daemon.json, or make the name resolvable on this machine"
            ),
            ProbeOutcome::Timeout => format!(
                "{host} did not answer the engine within {} s: check that the registry runs and the network reaches it",
                PROBE_TIMEOUT.as_secs()
            ),
            ProbeOutcome::Failed => format!(
                "the engine could not reach {host}: check that the registry runs at that address"
            ),
        })
    }

    /// Classifies the engine's error message.
    pub fn of_error(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        // Auth first: the containerd store words a 401 as "pull access denied, repository does
        // not exist or may require authorization: authorization failed: no basic auth credentials".
        if m.contains("no basic auth credentials")
            || m.contains("authorization failed")
            || m.contains("unauthorized")
            || m.contains("insufficient_scope")
            || m.contains("authentication required")
        {
            ProbeOutcome::Unauthorized
        } else if m.contains("server gave http response to https client") {
            ProbeOutcome::HttpsToHttp
        } else if m.contains("x509:")
            || m.contains("tls: ")
            || m.contains("certificate signed by unknown authority")
        {
            ProbeOutcome::Tls
        } else if m.contains("connection refused") {
            ProbeOutcome::Refused
        } else if m.contains("no such host") || m.contains("lookup ") {
            ProbeOutcome::NameNotResolved
        } else if m.contains("manifest unknown")
            || m.contains(": not found")
            || m.contains("repository does not exist")
        {
            ProbeOutcome::NotFound
        } else {
            ProbeOutcome::Failed
        }
    }
}

/// One probe's result, as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// The image looked up.
    pub reference: String,
    /// How: always `pull` (the engine's `/images/create`).
    pub method: &'static str,
    /// Whether credentials from the docker CLI config were sent.
    pub with_credentials: bool,
    /// What it found.
    pub outcome: ProbeOutcome,
    /// The pulled image's digest, when the engine reported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The engine's own error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub ms: u64,
}

/// Asks the engine to pull `reference` (with `credentials` when given).
#[tracing::instrument(level = "info", skip(docker, credentials))]
pub async fn probe(
    docker: &Docker,
    reference: &str,
    credentials: Option<DockerCredentials>,
    timeout: Duration,
) -> ProbeResult {
    let start = Instant::now();
    let with_credentials = credentials.is_some();
    let answer = tokio::time::timeout(timeout, pull(docker, reference, credentials)).await;
    let (outcome, digest, error) = match answer {
        Ok(Ok(digest)) => (ProbeOutcome::Found, digest, None),
        Ok(Err(message)) => (ProbeOutcome::of_error(&message), None, Some(message)),
        Err(_) => (
            ProbeOutcome::Timeout,
            None,
            Some(format!(
                "the engine did not answer within {} s",
                timeout.as_secs()
            )),
        ),
    };
    ProbeResult {
        reference: reference.to_string(),
        method: "pull",
        with_credentials,
        outcome,
        digest,
        error,
        ms: start.elapsed().as_millis() as u64,
    }
}

/// Pulls to the end; the digest the engine reported, or its error message.
async fn pull(
    docker: &Docker,
    reference: &str,
    credentials: Option<DockerCredentials>,
) -> Result<Option<String>, String> {
    use futures_util::StreamExt;
    let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(reference)
        .build();
    let mut stream = docker.create_image(Some(options), None, credentials);
    let mut digest = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    return Err(e);
                }
                if let Some(d) = info
                    .status
                    .as_deref()
                    .and_then(|s| s.strip_prefix("Digest: "))
                {
                    digest = Some(d.to_string());
                }
            }
            Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                return Err(message)
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => return Err(error),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_are_classified_as_the_engines_really_word_them() {
        // Seen on Engine 26.1 and 28.5 against distribution 2.8 (both stores).
        use ProbeOutcome::*;
        let cases = [
            ("manifest unknown: manifest unknown", NotFound),
            (
                "manifest for 127.0.0.1:15001/stowage/probe:latest not found: manifest unknown: manifest unknown",
                NotFound,
            ),
            (
                "failed to resolve reference \"127.0.0.1:15001/stowage/probe:latest\": 127.0.0.1:15001/stowage/probe:latest: not found",
                NotFound,
            ),
            (
                "failed to resolve reference \"127.0.0.1:15003/tiny:1\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials",
                Unauthorized,
            ),
            (
                "failed to resolve reference \"docker.io/library/tiny:latest\": failed to do request: Head \"https://registry-1.docker.io/v2/library/tiny/manifests/latest\": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host",
                NameNotResolved,
            ),
            (
                "Head \"http://127.0.0.1:15003/v2/tiny/manifests/1\": no basic auth credentials",
                Unauthorized,
            ),
            (
                "errors:\ndenied: requested access to the resource is denied\nunauthorized: authentication required\n",
                Unauthorized,
            ),
            (
                "Get \"https://127.0.0.1:5000/v2/\": http: server gave HTTP response to HTTPS client",
                HttpsToHttp,
            ),
            (
                "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
                Refused,
            ),
            (
                "Get \"https://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused",
                Refused,
            ),
            (
                "Get \"https://r.example:5000/v2/\": tls: failed to verify certificate: x509: certificate signed by unknown authority",
                Tls,
            ),
            (
                "failed to do request: Head \"https://mirror.example.com/v2/library/x/manifests/latest\": dial tcp: lookup mirror.example.com on 10.255.255.53:53: no such host",
                NameNotResolved,
            ),
            ("unexpected EOF", Failed),
        ];
        for (m, want) in cases {
            assert_eq!(ProbeOutcome::of_error(m), want, "{m}");
        }
        assert!(Unauthorized.reached() && NotFound.reached() && !HttpsToHttp.reached());
        // hosts.toml fixes how the engine speaks to a registry, never one that is not there.
        assert!(HttpsToHttp.fixed_by_hosts_toml() && Tls.fixed_by_hosts_toml());
        for o in [Refused, NameNotResolved, Timeout, Failed] {
            assert!(!o.fixed_by_hosts_toml(), "{o:?}");
        }
        let refused = Refused.failure("127.0.0.1:5999").unwrap();
        assert!(
            refused.contains("not listening at 127.0.0.1:5999")
                && refused.contains("start it, or correct the address in daemon.json"),
            "{refused}"
        );
        assert!(NameNotResolved
            .failure("mirror.example.com")
            .unwrap()
            .starts_with("the name mirror.example.com does not resolve"));
        assert_eq!(Found.failure("x"), None);
    }
}
