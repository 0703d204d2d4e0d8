//! Setting up the stargz snapshotter where the engine uses a system containerd: Debian's
//! `stargz-snapshotter` package runs `containerd-stargz-grpc`; containerd needs a
//! `[proxy_plugins.stargz]` entry in its config (added here with toml_edit, everything else
//! kept), then containerd and the engine restart.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::location::{containerd_root, ContainerdRoot};

/// The plugin's name (what `storage-driver` names).
pub const NAME: &str = "stargz";
/// The socket `containerd-stargz-grpc` listens on (its default).
pub const SOCKET: &str = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock";
/// Its daemon's systemd unit (Debian's package).
pub const SERVICE: &str = "stargz-snapshotter.service";
/// Its daemon.
pub const BINARY: &str = "containerd-stargz-grpc";

/// What the set-up touches, as its plan shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SetupPlan {
    /// containerd's config file (edited, a backup kept beside it).
    pub config: PathBuf,
    /// Where the backup goes.
    pub backup: PathBuf,
    /// The diff of the config (empty when the entry is there already).
    pub diff: String,
    /// The new config text.
    #[serde(skip)]
    pub new_text: String,
    /// The services started or restarted, in order.
    pub services: Vec<String>,
    /// Why it cannot be done here, when it cannot (nothing is touched then).
    pub refusal: Option<String>,
}

/// What the set-up did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupOutcome {
    /// Whether stargz is usable at the end.
    pub applied: bool,
    /// The backup of containerd's config, when it was written.
    pub backup: Option<PathBuf>,
    /// Each step as it went.
    pub steps: Vec<String>,
    /// Why it failed (the old config is back then, and the services restarted on it).
    pub error: Option<String>,
}

/// `text` (a containerd config) with `[proxy_plugins.stargz]` of type `snapshot` on
/// [`SOCKET`]; everything else kept as it is. `None` when it is there already.
pub fn with_proxy_entry(text: &str) -> Result<Option<String>> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
        Error::InvalidRequest(format!("containerd's config is not valid TOML: {e}"))
    })?;
    let present = super::proxy::proxy_snapshotters(text)
        .iter()
        .any(|p| p.name == NAME && p.address == Path::new(SOCKET));
    if present {
        return Ok(None);
    }
    if doc.get("proxy_plugins").is_none() {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert("proxy_plugins", toml_edit::Item::Table(t));
    }
    let plugins = doc["proxy_plugins"].as_table_like_mut().ok_or_else(|| {
        Error::InvalidRequest("containerd's `proxy_plugins` is not a table".into())
    })?;
    let mut entry = toml_edit::Table::new();
    entry.insert("type", toml_edit::value("snapshot"));
    entry.insert("address", toml_edit::value(SOCKET));
    plugins.insert(NAME, toml_edit::Item::Table(entry));
    Ok(Some(doc.to_string()))
}

/// The set-up plan for containerd's config at `config` (its text `text`).
pub fn plan(config: &Path, text: &str) -> Result<SetupPlan> {
    let new_text = with_proxy_entry(text)?.unwrap_or_else(|| text.to_string());
    let diff = crate::daemon_json::diff::unified_diff(config, text, &new_text);
    Ok(SetupPlan {
        config: config.to_path_buf(),
        backup: backup_path(config),
        services: vec![
            SERVICE.to_string(),
            "containerd.service".to_string(),
            "docker.service".to_string(),
        ],
        diff,
        new_text,
        refusal: None,
    })
}

/// Why stargz cannot be set up for `engine` (`None` when it can): the managed containerd
/// cannot load proxy plugins, the engine must run under systemd beside containerd.service, and
/// the daemon must be installed.
fn refusal(engine: &Engine, root: &ContainerdRoot) -> Option<String> {
    if matches!(root, ContainerdRoot::Managed { .. }) {
        return Some(super::MANAGED_NO_PROXY.to_string());
    }
    if engine.unit.as_ref().is_none_or(|u| u.user) {
        return Some(
            "Stowage sets stargz up for an engine run by the system's systemd (docker.service beside containerd.service)".into(),
        );
    }
    if crate::tools::which(BINARY).is_none() {
        let ctr_remote = crate::tools::which("ctr-remote").is_some();
        return Some(format!(
            "`{BINARY}` is not installed{}: Debian's stargz-snapshotter package (0.14 in trixie) ships only `ctr-remote` (it converts images to eStargz), not the snapshotter's daemon; install `{BINARY}` with a `{SERVICE}` unit from the stargz-snapshotter project, then run this again",
            if ctr_remote { " (ctr-remote is)" } else { "" }
        ));
    }
    None
}

/// The set-up plan for `engine`: containerd's config file, its diff, the services, or why not.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn prepare(engine: &Engine) -> Result<SetupPlan> {
    let e = engine.clone();
    tokio::task::spawn_blocking(move || {
        let root = containerd_root(&e, None);
        let config = match &root {
            ContainerdRoot::System { config, .. } => config
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/containerd/config.toml")),
            ContainerdRoot::Managed { root } => root.join("containerd.toml"),
        };
        let text = match std::fs::read_to_string(&config) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&config, "reading", e)),
        };
        let mut p = plan(&config, &text)?;
        if let Some(unit) = &e.unit {
            if let Some(last) = p.services.last_mut() {
                *last = unit.name.clone();
            }
        }
        p.refusal = refusal(&e, &root);
        Ok(p)
    })
    .await
    .map_err(|e| Error::internal("planning the stargz set-up", e))?
}

async fn run(step: &str, program: &str, args: &[&str]) -> Result<()> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| Error::Command {
            command: format!("{program} {}", args.join(" ")),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: format!("{program} {}", args.join(" ")),
            message: format!(
                "{step} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Carries out `plan` on `engine`: back up and write containerd's config (validated by
/// `containerd config dump` first), start the stargz daemon, restart containerd and then the
/// engine, and verify that containerd offers a usable `stargz`; on any failure after the
/// write, the old config is put back and the services restarted on it.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn apply(engine: &Engine, plan: &SetupPlan) -> SetupOutcome {
    let mut out = SetupOutcome {
        applied: false,
        backup: None,
        steps: Vec::new(),
        error: None,
    };
    if let Some(why) = &plan.refusal {
        out.error = Some(format!("nothing was changed: {why}"));
        return out;
    }
    let wrote = if plan.diff.is_empty() {
        false
    } else {
        match write_config(plan).await {
            Ok(backup) => {
                out.backup = backup;
                out.steps
                    .push(format!("wrote {} (validated)", plan.config.display()));
                true
            }
            Err(e) => {
                out.error = Some(format!("nothing was changed: {e}"));
                return out;
            }
        }
    };
    // Whether the daemon's unit was enabled already (a rollback leaves it as it was).
    let was_enabled = run(
        "is-enabled",
        "systemctl",
        &["is-enabled", "--quiet", SERVICE],
    )
    .await
    .is_ok();
    let result = restart_all(engine, plan, true, &mut out.steps).await;
    let result = match result {
        Ok(()) => {
            let a = super::available(engine).await;
            match a.refusal(NAME) {
                None => Ok(()),
                Some(why) => Err(Error::InvalidRequest(why)),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            out.steps.push("containerd offers a usable stargz".into());
            out.applied = true;
        }
        Err(e) => {
            let mut error = e.to_string();
            if wrote {
                let restored = restore(plan, out.backup.as_deref()).await;
                if !was_enabled
                    && run("disable", "systemctl", &["disable", "--now", SERVICE])
                        .await
                        .is_ok()
                {
                    out.steps.push(format!("systemctl disable --now {SERVICE}"));
                }
                let restarted = restart_all(engine, plan, false, &mut out.steps).await;
                match (restored, restarted) {
                    (Ok(()), Ok(())) => error
                        .push_str("; the previous config is back and the services restarted on it"),
                    (Err(r), _) | (_, Err(r)) => {
                        error.push_str(&format!("; rolling back also failed: {r}"))
                    }
                }
            }
            out.error = Some(error);
        }
    }
    out
}

async fn write_config(plan: &SetupPlan) -> Result<Option<PathBuf>> {
    let (config, backup, text) = (
        plan.config.clone(),
        plan.backup.clone(),
        plan.new_text.clone(),
    );
    let staged = {
        let mut name = config.file_name().unwrap_or_default().to_os_string();
        name.push(".stowage-new");
        config.with_file_name(name)
    };
    let staged2 = staged.clone();
    let backed_up = tokio::task::spawn_blocking(move || -> Result<Option<PathBuf>> {
        if let Some(dir) = config.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating", e))?;
        }
        std::fs::write(&staged2, &text).map_err(|e| Error::io(&staged2, "writing", e))?;
        Ok(if config.exists() {
            std::fs::copy(&config, &backup).map_err(|e| Error::io(&backup, "backing up to", e))?;
            Some(backup)
        } else {
            None
        })
    })
    .await
    .map_err(|e| Error::internal("writing containerd's config", e))??;
    let staged_s = staged.display().to_string();
    if let Err(e) = run(
        "validating the new config",
        "containerd",
        &["--config", &staged_s, "config", "dump"],
    )
    .await
    {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(e);
    }
    tokio::fs::rename(&staged, &plan.config)
        .await
        .map_err(|e| Error::io(&plan.config, "replacing", e))?;
    Ok(backed_up)
}

async fn restore(plan: &SetupPlan, backup: Option<&Path>) -> Result<()> {
    match backup {
        Some(b) => tokio::fs::copy(b, &plan.config)
            .await
            .map(|_| ())
            .map_err(|e| Error::io(&plan.config, "restoring", e)),
        None => tokio::fs::remove_file(&plan.config)
            .await
            .map_err(|e| Error::io(&plan.config, "removing", e)),
    }
}

/// Starts the stargz daemon (`with_daemon`: not when rolling back), then restarts containerd and
/// the engine, and waits until the engine answers.
async fn restart_all(
    engine: &Engine,
    plan: &SetupPlan,
    with_daemon: bool,
    steps: &mut Vec<String>,
) -> Result<()> {
    for (i, unit) in plan.services.iter().enumerate() {
        if i == 0 && !with_daemon {
            continue;
        }
        let verb = if i == 0 { "enable" } else { "restart" };
        if i > 0 {
            // A restart must not meet systemd's start limit (the engine's socket too).
            let mut reset = vec!["reset-failed", unit.as_str()];
            if let Some(socket) = engine.unit.as_ref().and_then(|u| u.socket.as_deref()) {
                if i + 1 == plan.services.len() {
                    reset.push(socket);
                }
            }
            let _ = run("reset-failed", "systemctl", &reset).await;
        }
        let args: Vec<&str> = if i == 0 {
            vec!["enable", "--now", unit.as_str()]
        } else {
            vec!["restart", unit.as_str()]
        };
        run(&format!("{verb} {unit}"), "systemctl", &args).await?;
        steps.push(format!("systemctl {}", args.join(" ")));
    }
    // The engine answers again before containerd is asked.
    for _ in 0..60 {
        if crate::engine::client::ping(&engine.host, std::time::Duration::from_secs(2)).await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Err(Error::Engine {
        host: engine.host.clone(),
        message: "the engine did not answer after the restart".into(),
    })
}

fn backup_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".stowage-bak");
    config.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_added_once_and_the_rest_is_kept() {
        let text = "# mine\nversion = 2\nroot = \"/srv/containerd\"\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"\n";
        let new = with_proxy_entry(text).unwrap().unwrap();
        assert!(new.starts_with(text), "{new}");
        let proxies = super::super::proxy::proxy_snapshotters(&new);
        assert_eq!(proxies.len(), 1);
        assert_eq!(proxies[0].name, "stargz");
        assert_eq!(proxies[0].address, Path::new(SOCKET));
        assert_eq!(with_proxy_entry(&new).unwrap(), None);
        assert!(with_proxy_entry("x = [").is_err());
        let p = plan(Path::new("/etc/containerd/config.toml"), text).unwrap();
        assert!(p.diff.contains("+[proxy_plugins.stargz]"), "{}", p.diff);
        assert_eq!(
            p.backup,
            Path::new("/etc/containerd/config.toml.stowage-bak")
        );
    }
}
