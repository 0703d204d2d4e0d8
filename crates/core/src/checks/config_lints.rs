//! Checks over daemon.json and the dockerd command line: valid file, storage-driver vs store,
//! userns-remap, options set twice.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::daemon_json::KeyPath;
use crate::engine::drivers;
use crate::engine::store::ImageStore;
use crate::switch::lint::flag_and_file_conflicts;

const DAEMON_JSON_DOCS: &str =
    "https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file";

/// `daemon-json-valid`: strict JSON, no duplicate keys, and accepted by `dockerd --validate`.
pub async fn daemon_json_valid(ctx: &CheckContext) -> Finding {
    let path = ctx.engine.config_file.display().to_string();
    if let Some(err) = &ctx.config_error {
        return Finding::new(Status::Fail, format!("daemon.json cannot be read: {err}"))
            .with("file", path.clone())
            .fix(Fix::manual(
                "edit-daemon-json",
                "Correct the file at the position shown, then check it again",
                &[
                    &format!("${{EDITOR:-vi}} {path}"),
                    "stowctl config validate",
                ],
                Some(DAEMON_JSON_DOCS),
            ));
    }
    if !ctx.engine.config_file.exists() {
        return Finding::new(
            Status::Ok,
            "there is no daemon.json: the engine uses its defaults",
        )
        .with("file", path)
        .with("exists", false);
    }
    let validator = crate::daemon_json::validate::Validator::for_engine(&ctx.engine);
    let Some(v) = validator else {
        return Finding::new(
            Status::Ok,
            "daemon.json is valid JSON (dockerd is not here to validate it further)",
        )
        .with("file", path)
        .with("validated_by_dockerd", false);
    };
    let file = ctx.engine.config_file.clone();
    match tokio::task::spawn_blocking(move || v.validate(&file)).await {
        Ok(Ok(())) => Finding::new(Status::Ok, "daemon.json is valid and dockerd accepts it")
            .with("file", path)
            .with("validated_by_dockerd", true),
        Ok(Err(e)) => Finding::new(Status::Fail, e.to_string())
            .with("file", path.clone())
            .with("validated_by_dockerd", true)
            .fix(Fix::manual(
                "edit-daemon-json",
                "Correct the option dockerd names, then check again",
                &[
                    &format!("${{EDITOR:-vi}} {path}"),
                    "stowctl config validate",
                ],
                Some(DAEMON_JSON_DOCS),
            )),
        Err(e) => Finding::new(Status::Error, format!("validation could not run: {e}")),
    }
}

/// `storage-driver-conflict`: a `storage-driver` the evaluated store cannot use.
pub fn storage_driver(ctx: &CheckContext) -> Finding {
    let from_file = ctx
        .facts
        .doc
        .get_str(&KeyPath::top("storage-driver"))
        .map(str::to_string);
    let from_flag = ctx.facts.args.storage_driver.clone();
    let Some(driver) = from_flag.clone().or(from_file.clone()) else {
        return Finding::new(
            Status::Ok,
            "no storage-driver is set: the engine picks the right one for the store",
        );
    };
    let where_ = if from_flag.is_some() {
        "dockerd's --storage-driver flag"
    } else {
        "daemon.json"
    };
    let graph_only = drivers::only_store(&driver) == Some(ImageStore::Classic);
    let snapshot_only = drivers::only_store(&driver) == Some(ImageStore::Containerd);
    let version = ctx.facts.version.clone();
    let base = Finding::new(Status::Ok, String::new())
        .with("storage_driver", driver.clone())
        .with("set_in", where_)
        .with("store", ctx.target.as_str())
        .with("engine_version", json!(ctx.version_text()));
    let auto = Fix::automatic(
        "translate-storage-driver",
        "Replace it in daemon.json with the equivalent for this store (planned and applied like a switch)",
    );
    let manual_flag = Fix::manual(
        "remove-storage-driver-flag",
        "Remove --storage-driver from the dockerd service definition (systemctl edit docker), then restart",
        &["sudo systemctl edit docker.service", "sudo systemctl restart docker"],
        Some("https://docs.docker.com/engine/storage/containerd/"),
    );
    let fix = if from_flag.is_some() {
        manual_flag
    } else {
        auto
    };
    match ctx.target {
        ImageStore::Containerd if graph_only => {
            let (status, why) = match version.as_ref().map(|v| v.major) {
                Some(m) if m >= 29 => (Status::Fail, "Engine 29+ keeps the classic store when a graphdriver is named"),
                Some(m) if m >= 26 => (Status::Warn, "this engine accepts it as a snapshotter name, but Engine 29+ would keep the classic store"),
                _ => (Status::Fail, "Engine 24-25 asks containerd for a snapshotter of that name and fails to start"),
            };
            Finding { status, summary: format!("{where_} sets storage-driver `{driver}`, a classic graphdriver: {why}"), ..base }.fix(fix)
        }
        ImageStore::Classic if snapshot_only => Finding {
            status: Status::Fail,
            summary: format!("{where_} sets storage-driver `{driver}`, a containerd snapshotter: the classic store cannot start with it"),
            ..base
        }
        .fix(fix),
        _ => Finding { summary: format!("storage-driver `{driver}` suits the {} store", ctx.target), ..base },
    }
}

/// `userns-remap`: not supported by the containerd image store.
pub fn userns_remap(ctx: &CheckContext) -> Finding {
    let set = ctx
        .facts
        .doc
        .get(&KeyPath::top("userns-remap"))
        .cloned()
        .or(ctx.facts.args.userns_remap.clone().map(Into::into));
    match (set, drivers::supports_userns_remap(ctx.target)) {
        (None, _) => Finding::new(Status::Ok, "userns-remap is not set"),
        (Some(v), true) => Finding::new(Status::Ok, format!("userns-remap is set; the {} store supports it", ctx.target)).with("userns_remap", v),
        (Some(v), false) => Finding::new(
            Status::Fail,
            "userns-remap is set: the containerd image store does not support user namespace remapping (the engine refuses an explicit switch, and Engine 29+ keeps classic)",
        )
        .with("userns_remap", v)
        .fix(Fix::manual(
            "drop-userns-remap",
            "Decide whether you need user namespace remapping; removing it changes the owner of files in volumes and containers",
            &["stowctl config show"],
            Some("https://docs.docker.com/engine/security/userns-remap/"),
        )),
    }
}

/// `flag-and-file-conflict`: dockerd refuses to start when an option is set in both places.
pub fn flag_and_file(ctx: &CheckContext) -> Finding {
    if ctx.engine.process.is_none() {
        return Finding::new(Status::Skipped, "the dockerd command line is not visible (the engine process was not found), so it cannot be compared with daemon.json");
    }
    let conflicts = flag_and_file_conflicts(&ctx.facts.doc, &ctx.facts.args);
    let argv = json!(ctx
        .engine
        .process
        .as_ref()
        .map(|p| p.argv.clone())
        .unwrap_or_default());
    if conflicts.is_empty() {
        return Finding::new(
            Status::Ok,
            "no option is set both on the command line and in daemon.json",
        )
        .with("argv", argv);
    }
    let keys: Vec<String> = conflicts
        .iter()
        .filter_map(|f| f.message.split('`').nth(1).map(str::to_string))
        .collect();
    Finding::new(
        Status::Fail,
        format!("set both as a dockerd flag and in daemon.json: {} (dockerd refuses to start like that)", keys.join(", ")),
    )
    .with("argv", argv)
    .with("keys", json!(keys))
    .fix(Fix::automatic("remove-from-daemon-json", "Remove these keys from daemon.json; the command line values stay (planned first, with a diff)"))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::daemon_json::DaemonJson;
    use crate::engine::{Engine, EngineKind, ProcessInfo};
    use crate::features::EngineFacts;

    /// A context for an engine of `version` with `json` as daemon.json, run as `argv` (no
    /// process when empty), evaluated for `target`.
    fn ctx(version: &str, json: &str, argv: &[&str], target: ImageStore) -> CheckContext {
        let path = PathBuf::from("/nonexistent/etc/docker/daemon.json");
        let mut engine = Engine::new(
            "test",
            EngineKind::System,
            "unix:///nonexistent/docker.sock",
            path.clone(),
            PathBuf::from("/nonexistent/var/lib/docker"),
            PathBuf::from("/nonexistent/run/docker"),
            "test",
        );
        if !argv.is_empty() {
            engine.process = Some(ProcessInfo {
                pid: 4242,
                uid: 0,
                exe: None,
                argv: argv.iter().map(|a| a.to_string()).collect(),
                env: Default::default(),
                cwd: None,
            });
        }
        let doc = DaemonJson::parse(Path::new(&path), json).unwrap();
        let mut facts = EngineFacts::new(&engine, doc, None);
        facts.version = Some(semver::Version::parse(version).unwrap());
        facts.active_store = Some(ImageStore::Classic);
        CheckContext::from_facts(engine, facts, target)
    }

    fn fix_ids(f: &Finding) -> Vec<(&str, bool)> {
        f.fixes
            .iter()
            .map(|x| (x.id.as_str(), x.automatic))
            .collect()
    }

    #[test]
    fn no_storage_driver_is_fine_for_either_store() {
        for target in [ImageStore::Classic, ImageStore::Containerd] {
            let f = storage_driver(&ctx("28.0.0", "{}", &["dockerd"], target));
            assert_eq!(f.status, Status::Ok);
            assert!(f.fixes.is_empty());
        }
    }

    #[test]
    fn a_graphdriver_for_the_containerd_store_depends_on_the_engine_version() {
        let json = r#"{"storage-driver": "overlay2"}"#;
        let at = |v| storage_driver(&ctx(v, json, &["dockerd"], ImageStore::Containerd));
        let f = at("29.0.0");
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.summary.contains("Engine 29+ keeps the classic store"),
            "{}",
            f.summary
        );
        assert_eq!(fix_ids(&f), [("translate-storage-driver", true)]);
        assert_eq!(f.evidence["set_in"], "daemon.json");
        assert_eq!(f.evidence["store"], "containerd");
        assert_eq!(at("27.3.1").status, Status::Warn);
        let f = at("25.0.0");
        assert_eq!(f.status, Status::Fail);
        assert!(f.summary.contains("Engine 24-25"), "{}", f.summary);
    }

    #[test]
    fn a_storage_driver_flag_gets_the_manual_fix() {
        let f = storage_driver(&ctx(
            "29.0.0",
            "{}",
            &["dockerd", "--storage-driver", "vfs"],
            ImageStore::Containerd,
        ));
        assert_eq!(f.status, Status::Fail);
        assert!(f
            .summary
            .starts_with("dockerd's --storage-driver flag sets"));
        assert_eq!(fix_ids(&f), [("remove-storage-driver-flag", false)]);
    }

    #[test]
    fn a_snapshotter_for_the_classic_store_fails_and_shared_names_suit_both() {
        let f = storage_driver(&ctx(
            "28.0.0",
            r#"{"storage-driver": "overlayfs"}"#,
            &["dockerd"],
            ImageStore::Classic,
        ));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.summary.contains("a containerd snapshotter"),
            "{}",
            f.summary
        );
        for target in [ImageStore::Classic, ImageStore::Containerd] {
            let f = storage_driver(&ctx(
                "29.0.0",
                r#"{"storage-driver": "btrfs"}"#,
                &["dockerd"],
                target,
            ));
            assert_eq!(f.status, Status::Ok, "{target}: {}", f.summary);
            assert_eq!(
                f.summary,
                format!("storage-driver `btrfs` suits the {target} store")
            );
        }
    }

    #[test]
    fn userns_remap_fails_only_for_the_containerd_store() {
        let json = r#"{"userns-remap": "default"}"#;
        let f = userns_remap(&ctx("28.0.0", json, &["dockerd"], ImageStore::Classic));
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.evidence["userns_remap"], "default");
        let f = userns_remap(&ctx("28.0.0", json, &["dockerd"], ImageStore::Containerd));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(fix_ids(&f), [("drop-userns-remap", false)]);
        let f = userns_remap(&ctx(
            "28.0.0",
            "{}",
            &["dockerd", "--userns-remap", "default"],
            ImageStore::Containerd,
        ));
        assert_eq!(f.status, Status::Fail, "the flag counts too");
        let f = userns_remap(&ctx("28.0.0", "{}", &["dockerd"], ImageStore::Containerd));
        assert_eq!(f.status, Status::Ok);
    }

    #[test]
    fn options_set_twice_are_found_with_their_keys() {
        let f = flag_and_file(&ctx(
            "28.0.0",
            r#"{"debug": true, "registry-mirrors": ["https://m"], "log-level": "warn"}"#,
            &["dockerd", "--debug", "--registry-mirror", "https://n"],
            ImageStore::Classic,
        ));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.evidence["keys"], json!(["debug", "registry-mirrors"]));
        assert_eq!(fix_ids(&f), [("remove-from-daemon-json", true)]);
        let f = flag_and_file(&ctx(
            "28.0.0",
            r#"{"debug": true}"#,
            &["dockerd", "--log-level", "warn"],
            ImageStore::Classic,
        ));
        assert_eq!(f.status, Status::Ok);
    }

    #[test]
    fn without_a_visible_process_the_command_line_check_is_skipped() {
        let f = flag_and_file(&ctx(
            "28.0.0",
            r#"{"debug": true}"#,
            &[],
            ImageStore::Classic,
        ));
        assert_eq!(f.status, Status::Skipped);
    }

    #[tokio::test]
    async fn an_unreadable_or_missing_daemon_json() {
        let mut c = ctx("28.0.0", "{}", &["dockerd"], ImageStore::Classic);
        let f = daemon_json_valid(&c).await;
        assert_eq!(f.status, Status::Ok);
        assert_eq!(f.evidence["exists"], false);
        c.config_error = Some("3:31: expected a value".into());
        let f = daemon_json_valid(&c).await;
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.summary,
            "daemon.json cannot be read: 3:31: expected a value"
        );
        assert_eq!(fix_ids(&f), [("edit-daemon-json", false)]);
    }
}
