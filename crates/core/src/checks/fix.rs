//! Applying a check's automatic fix: always planned first (a preview with a diff), then applied
//! through the same transaction as a store switch (daemon.json edits) or written atomically
//! (registry hosts.toml files).

use serde::Serialize;

use super::registry_mirrors::{self, FileChange};
use super::CheckContext;
use crate::daemon_json::{Edit, KeyPath};
use crate::error::{Error, Result};
use crate::switch::progress::Stage;
use crate::switch::{self, ApplyOptions, Outcome, Prepared, Progress, Request};

/// A planned fix.
#[derive(Debug, Clone)]
pub enum FixPlan {
    /// daemon.json edits with a restart, as a switch plan.
    Daemon(Box<Prepared>),
    /// Files to write.
    Files(Vec<FileChange>),
}

/// What `stowctl check fix ID --dry-run` prints.
#[derive(Debug, Clone, Serialize)]
pub struct FixPreview {
    /// The check.
    pub check: String,
    /// The fix.
    pub fix: String,
    /// The diff(s).
    pub diff: String,
    /// The files that change.
    pub files: Vec<std::path::PathBuf>,
    /// Whether the engine restarts.
    pub restart: bool,
    /// How, when it does.
    pub restart_description: Option<String>,
    /// Whether there is nothing to do.
    pub unchanged: bool,
    /// The stages applying it walks through, in order (`done` last): what a progress list
    /// shows before the first event arrives.
    pub stages: Vec<Stage>,
    /// What else a person must know before applying it (sentences), e.g. that the files are
    /// shared with other engines.
    pub notes: Vec<String>,
    /// The running containers its restart stops (a daemon.json fix that restarts).
    pub stopping: Option<crate::switch::Stopping>,
    /// What the plan says of them.
    #[serde(flatten)]
    pub stopping_words: crate::switch::StoppingWords,
}

/// What applying did.
#[derive(Debug, Clone, Serialize)]
pub struct FixOutcome {
    /// The preview that was applied.
    pub preview: FixPreview,
    /// The switch outcome, for daemon.json fixes.
    pub outcome: Option<Outcome>,
    /// The check run again after a file fix (its probes prove the fix, or say it still fails).
    pub after: Option<super::Finding>,
}

/// What the check said once a file fix was in place, in a sentence (the CLI's and the app's).
pub fn probed_again(after: &super::Finding) -> String {
    let status = serde_json::to_value(after.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    probed_again_text(&after.summary, &status)
}

/// [`probed_again`] from the JSON of `stowctl check fix --json` (its `after`: summary, status).
pub fn probed_again_text(summary: &str, status: &str) -> String {
    format!("Probed again: {summary} ({status})")
}

/// Plans the automatic fix of `check` on the context's engine (nothing is written).
pub async fn plan_fix(ctx: &CheckContext, check: &str) -> Result<(FixPlan, FixPreview)> {
    match super::registry::find(check).and_then(|c| c.plan_fix) {
        Some(plan) => plan(ctx).await,
        None => Err(not_automatic(check)),
    }
}

fn not_automatic(check: &str) -> Error {
    Error::InvalidRequest(format!(
        "check `{check}` has no automatic fix here; `stowctl check --id {check}` shows what to do"
    ))
}

/// `registry-mirrors`: writes the `certs.d/<host>/hosts.toml` files the mirrors need.
pub async fn plan_registry_mirrors(ctx: &CheckContext) -> Result<(FixPlan, FixPreview)> {
    let changes = registry_mirrors::plan_fix(ctx)?;
    let preview = FixPreview {
        check: "registry-mirrors".into(),
        fix: "write-hosts-toml".into(),
        diff: changes
            .iter()
            .map(|c| c.diff.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        files: changes.iter().map(|c| c.path.clone()).collect(),
        restart: false,
        restart_description: None,
        unchanged: changes.is_empty(),
        stages: vec![Stage::Done],
        notes: shared_certs_note(&ctx.engine, &registry_mirrors::certs_dir(ctx))
            .into_iter()
            .collect(),
        stopping: None,
        stopping_words: Default::default(),
    };
    Ok((FixPlan::Files(changes), preview))
}

/// When `certs` is the machine's own `/etc/docker/certs.d` and `engine` is not the system
/// engine: a sentence saying that every rootful engine on this machine reads it, so the fix
/// changes more than this engine.
pub fn shared_certs_note(
    engine: &crate::engine::Engine,
    certs: &std::path::Path,
) -> Option<String> {
    use crate::engine::EngineKind;
    let shared = certs == std::path::Path::new(super::registries::certs::ROOTFUL_CERTS_DIR);
    (shared && engine.kind != EngineKind::System).then(|| {
        format!(
            "{} is the machine's own folder: every rootful Docker Engine on this machine reads it, the system's docker.service included, not only {}. These files change how all of them pull from these registries.",
            certs.display(),
            engine.label()
        )
    })
}

/// `storage-driver-conflict`: translates daemon.json's `storage-driver` for the active store (a
/// `--storage-driver` flag is the user's to remove; during a switch the switch's plan does it).
pub async fn plan_storage_driver(ctx: &CheckContext) -> Result<(FixPlan, FixPreview)> {
    const CHECK: &str = "storage-driver-conflict";
    if ctx.facts.args.storage_driver.is_some() {
        return Err(not_automatic(CHECK));
    }
    if ctx.switching {
        return Err(Error::InvalidRequest(format!(
            "this fix belongs with the switch itself: `stowctl store use {}` translates storage-driver as part of its plan",
            ctx.target
        )));
    }
    let to_containerd = ctx.target == crate::engine::store::ImageStore::Containerd;
    match crate::features::edits::storage_driver_edit(&ctx.facts, to_containerd) {
        Some((edit, _)) => plan_edits(ctx, CHECK, "translate-storage-driver", vec![edit]).await,
        None => Err(not_automatic(CHECK)),
    }
}

/// `flag-and-file-conflict`: removes from daemon.json the keys also set as dockerd flags.
pub async fn plan_flag_and_file(ctx: &CheckContext) -> Result<(FixPlan, FixPreview)> {
    const CHECK: &str = "flag-and-file-conflict";
    let conflicts = crate::switch::lint::flag_and_file_conflicts(&ctx.facts.doc, &ctx.facts.args);
    let keys: Vec<String> = conflicts
        .iter()
        .filter_map(|f| f.message.split('`').nth(1).map(str::to_string))
        .collect();
    if keys.is_empty() {
        return Err(not_automatic(CHECK));
    }
    let edits = keys.iter().map(|k| Edit::Unset(KeyPath::top(k))).collect();
    plan_edits(ctx, CHECK, "remove-from-daemon-json", edits).await
}

/// daemon.json `edits` planned like a switch (a diff, and a restart when they need one).
async fn plan_edits(
    ctx: &CheckContext,
    check: &str,
    fix: &str,
    edits: Vec<Edit>,
) -> Result<(FixPlan, FixPreview)> {
    let prepared = switch::prepare(&ctx.engine, &ctx.paths, &Request::Edits(edits), None).await?;
    let preview = FixPreview {
        check: check.into(),
        fix: fix.into(),
        diff: prepared.plan.diff.clone(),
        files: vec![prepared.plan.config_file.clone()],
        restart: prepared.plan.restart,
        restart_description: prepared
            .plan
            .restart
            .then(|| prepared.plan.restart_description.clone()),
        unchanged: prepared.plan.is_noop(),
        stages: prepared.plan.expected_stages(
            crate::daemon_json::validate::Validator::for_engine(&ctx.engine).is_some(),
        ),
        notes: Vec::new(),
        stopping: prepared
            .plan
            .stopping
            .clone()
            .filter(|_| prepared.plan.restart),
        stopping_words: prepared.plan.stopping_words(),
    };
    Ok((FixPlan::Daemon(Box::new(prepared)), preview))
}

/// Applies a planned fix.
pub async fn apply_fix(
    ctx: &CheckContext,
    plan: FixPlan,
    preview: FixPreview,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Result<FixOutcome> {
    match plan {
        FixPlan::Files(changes) => {
            tokio::task::spawn_blocking(move || registry_mirrors::apply_fix(&changes))
                .await
                .map_err(|e| Error::internal("writing the fix's files", e))??;
            let after = match super::registry::find(&preview.check) {
                Some(check) => Some((check.run)(ctx).await),
                None => None,
            };
            Ok(FixOutcome {
                preview,
                outcome: None,
                after,
            })
        }
        FixPlan::Daemon(prepared) => {
            let outcome =
                switch::apply(&ctx.engine, &prepared.plan, &prepared.file, opts, progress).await;
            Ok(FixOutcome {
                preview,
                outcome: Some(outcome),
                after: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineKind};
    use std::path::{Path, PathBuf};

    fn engine(kind: EngineKind) -> Engine {
        Engine::new(
            "e",
            kind,
            "unix:///tmp/stw/docker.sock",
            PathBuf::from("/tmp/stw/daemon.json"),
            PathBuf::from("/tmp/stw/data"),
            PathBuf::from("/tmp/stw/exec"),
            "test",
        )
    }

    #[test]
    fn a_private_engine_is_told_that_etc_docker_certs_d_is_shared() {
        let certs = Path::new("/etc/docker/certs.d");
        let note = shared_certs_note(&engine(EngineKind::Process), certs).unwrap();
        assert!(
            note.starts_with("/etc/docker/certs.d is the machine's own folder: every rootful Docker Engine on this machine reads it")
                && note.contains("not only /tmp/stw/docker.sock"),
            "{note}"
        );
        assert_eq!(shared_certs_note(&engine(EngineKind::System), certs), None);
        assert_eq!(
            shared_certs_note(
                &engine(EngineKind::Process),
                Path::new("/home/u/.config/docker/certs.d")
            ),
            None
        );
    }
}
