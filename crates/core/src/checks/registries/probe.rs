//! One live probe: the engine looks up an image's manifest (`GET /distribution/NAME/json`, which
//! resolves through the engine's own registry settings: mirrors, insecure registries, certs.d),
//! under a short time limit. The engine's answer, or its error message, is the evidence.

use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::Docker;
use serde::Serialize;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

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
        if m.contains("manifest unknown") || m.contains("not found") || m.contains("does not exist")
        {
            ProbeOutcome::NotFound
        } else if m.contains("no basic auth credentials")
            || m.contains("unauthorized")
            || m.contains("insufficient_scope")
            || m.contains("authentication required")
        {
            ProbeOutcome::Unauthorized
        } else if m.contains("server gave http response to https client") {
            ProbeOutcome::HttpsToHttp
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
    /// How: always `manifest-lookup` (the engine's `/distribution/NAME/json`).
    pub method: &'static str,
    /// Whether credentials from the docker CLI config were sent.
    pub with_credentials: bool,
    /// What it found.
    pub outcome: ProbeOutcome,
    /// The manifest digest, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The engine's own error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub ms: u64,
}

/// Asks the engine to look up `reference`'s manifest (with `credentials` when given).
#[tracing::instrument(level = "info", skip(docker, credentials))]
pub async fn probe(
    docker: &Docker,
    reference: &str,
    credentials: Option<DockerCredentials>,
    timeout: Duration,
) -> ProbeResult {
    let start = Instant::now();
    let with_credentials = credentials.is_some();
    let answer = tokio::time::timeout(
        timeout,
        docker.inspect_registry_image(reference, credentials),
    )
    .await;
    let (outcome, digest, error) = match answer {
        Ok(Ok(d)) => (ProbeOutcome::Found, d.descriptor.digest, None),
        Ok(Err(e)) => {
            let message = match e {
                bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                other => other.to_string(),
            };
            (ProbeOutcome::of_error(&message), None, Some(message))
        }
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
        method: "manifest-lookup",
        with_credentials,
        outcome,
        digest,
        error,
        ms: start.elapsed().as_millis() as u64,
    }
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
