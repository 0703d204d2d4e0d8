//! `manifest-list-auth`: which registries in use ask the engine for a login, whether the docker
//! CLI config has credentials for them, and whether a stored login is accepted.

use serde::Serialize;
use serde_json::json;

use super::auth::{self, CredentialSource};
use super::probe::{self, ProbeOutcome, ProbeResult};
use crate::checks::{CheckContext, Finding, Fix, Status};

/// One registry's login probe, as evidence.
#[derive(Debug, Clone, Serialize)]
pub struct LoginProbe {
    /// `host[:port]`.
    pub registry: String,
    /// The pull without credentials.
    pub anonymous: ProbeResult,
    /// Where the CLI config would take credentials from.
    pub credentials: CredentialSource,
    /// The pull with the stored login, when there is one and the registry asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_login: Option<ProbeResult>,
    /// `docker login HOST`.
    pub login_command: String,
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let hosts = super::registries_in_use(ctx);
    let base = Finding::new(Status::Ok, String::new())
        .with("engine_version", json!(ctx.version_text()))
        .with("store", ctx.target.as_str())
        .with("registries", json!(hosts));
    if hosts.is_empty() {
        return Finding {
            status: Status::Skipped,
            summary: format!(
                "no registry to probe: none is configured, and no image was named {}",
                ctx.door.name_probe_images()
            ),
            ..base
        };
    }
    let Some(docker) = ctx.docker.as_ref() else {
        return Finding {
            status: Status::Error,
            summary: "the engine did not answer, so no registry could be probed".into(),
            ..base
        };
    };
    let (config, config_error) = auth::load_cli_config().await;
    let base = base
        .with(
            "cli_config",
            json!(auth::cli_config_path().map(|p| p.display().to_string())),
        )
        .with("cli_config_error", json!(config_error));
    let futures = hosts.iter().map(|host| {
        let config = &config;
        async move {
            let image = ctx
                .probe_images
                .iter()
                .find(|i| super::registry_of(i) == *host)
                .cloned()
                .unwrap_or_else(|| format!("{host}/stowage/probe:latest"));
            let anonymous = probe::probe(docker, &image, None, probe::PROBE_TIMEOUT).await;
            let credentials = auth::source_for(config, host);
            let with_login = match (anonymous.outcome, auth::stored_credentials(config, host)) {
                (ProbeOutcome::Unauthorized, Some(c)) => {
                    Some(probe::probe(docker, &image, Some(c), probe::PROBE_TIMEOUT).await)
                }
                _ => None,
            };
            LoginProbe {
                registry: host.clone(),
                anonymous,
                credentials,
                with_login,
                login_command: auth::login_command(host),
            }
        }
    });
    let probes = futures_util::future::join_all(futures).await;
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    let mut fixes = Vec::new();
    for p in &probes {
        if p.anonymous.outcome != ProbeOutcome::Unauthorized {
            continue;
        }
        let (s, note) = match (&p.credentials, p.with_login.as_ref().map(|w| w.outcome)) {
            (_, Some(o)) if o != ProbeOutcome::Unauthorized && o.reached() => {
                (Status::Ok, format!("{} asks for a login and accepts the stored one", p.registry))
            }
            (_, Some(_)) => (
                Status::Fail,
                format!("{} refuses the stored login: {}", p.registry, p.with_login.as_ref().and_then(|w| w.error.clone()).unwrap_or_default()),
            ),
            (CredentialSource::None, None) | (CredentialSource::Stored, None) => (
                Status::Warn,
                format!("{} answers 401 and the docker CLI config has no credentials for it", p.registry),
            ),
            (CredentialSource::Helper { name } | CredentialSource::Store { name }, None) => (
                Status::Warn,
                format!("{} answers 401; credentials would come from docker-credential-{name}, which Stowage does not run (unverified)", p.registry),
            ),
        };
        if s != Status::Ok {
            fixes.push(Fix::manual(
                "docker-login",
                format!("Log in to {} (pulls of images without a manifest list fail with `insufficient_scope` until you do)", p.registry),
                &[p.login_command.as_str()],
                Some("https://docs.docker.com/reference/cli/docker/login/"),
            ));
        }
        status = status.max(s);
        notes.push(note);
    }
    let summary = if notes.is_empty() {
        format!(
            "no registry asked the engine for a login ({} probed)",
            probes.len()
        )
    } else {
        notes.join("; ")
    };
    Finding {
        status,
        summary,
        fixes,
        ..base.with("probes", json!(probes))
    }
}
