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
                Failed,
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
                Failed,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(ProbeOutcome::of_error(m), want, "{m}");
        }
        assert!(Unauthorized.reached() && NotFound.reached() && !HttpsToHttp.reached());
    }
}
