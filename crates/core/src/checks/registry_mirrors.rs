//! `registry-mirrors`: mirrors and insecure registries, proven by pulls through the engine
//! (per registry, its error as evidence; see [`super::registries`]), and the fix that
//! writes the equivalent containerd-style `certs.d/<host>/hosts.toml` files (which Engine 28+
//! reads from the certs.d of its kind) with toml_edit, keeping anything already in them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use toml_edit::{value, Array, DocumentMut, Item, Table};

use super::registries::{self, ProbeOutcome, ProbeResult};
use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};

const DOCS: &str = "https://docs.docker.com/engine/daemon/registry-mirror/";

/// The repository looked up on a registry when the user named no image of it: a registry that
/// answers `manifest unknown` for it was reached through the engine's settings.
const PLACEHOLDER: &str = "stowage/probe:latest";

fn list(ctx: &CheckContext, key: &str, flag: &str) -> Vec<String> {
    registries::configured(ctx, key, flag)
}

/// One registry's probe, as evidence.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryProbe {
    /// `host[:port]`.
    pub registry: String,
    /// `insecure`, `mirror` or `docker-hub-through-mirrors`.
    pub role: &'static str,
    /// Whether the probe proves the setting works for this registry.
    pub verdict: Status,
    /// Why, in a few words.
    pub reason: String,
    /// The probe itself.
    pub probe: ProbeResult,
}

/// The named probe image for `host`, else a placeholder under it.
fn image_for(probe_images: &[String], host: &str) -> (String, bool) {
    match probe_images
        .iter()
        .find(|i| registries::registry_of(i) == host)
    {
        Some(i) => (i.clone(), true),
        None => (format!("{host}/{PLACEHOLDER}"), false),
    }
}

/// The repository path of a Docker Hub reference (`busybox:1` -> `library/busybox:1`).
fn hub_path(reference: &str) -> String {
    let r = reference.trim_start_matches("docker.io/");
    if r.contains('/') {
        r.to_string()
    } else {
        format!("library/{r}")
    }
}

fn judge(role: &'static str, host: &str, named: bool, probe: ProbeResult) -> RegistryProbe {
    use ProbeOutcome::*;
    let (verdict, reason) = match (probe.outcome, named) {
        (Found, _) => (
            Status::Ok,
            format!("the engine read {} from it", probe.reference),
        ),
        (NotFound, true) => (
            Status::Warn,
            format!(
                "reached, but it has no {}: name an image it holds",
                probe.reference
            ),
        ),
        (NotFound, false) => (
            Status::Ok,
            "reached through the engine (it answered `manifest unknown` for a placeholder)".into(),
        ),
        (Unauthorized, _) => (
            Status::Ok,
            "reached through the engine; it asks for a login (see manifest-list-auth)".into(),
        ),
        (HttpsToHttp | Tls | Refused | NameNotResolved | Failed | Timeout, _) => (
            Status::Fail,
            probe.outcome.failure(host).unwrap_or_default(),
        ),
    };
    RegistryProbe {
        registry: host.to_string(),
        role,
        verdict,
        reason,
        probe,
    }
}

/// Probes every insecure registry and mirror through the engine (now, on the store it runs).
pub async fn probe_all(ctx: &CheckContext) -> Option<Vec<RegistryProbe>> {
    let docker = ctx.docker.as_ref()?;
    Some(
        probe_registries(
            docker,
            &list(ctx, "registry-mirrors", "registry-mirror"),
            &list(ctx, "insecure-registries", "insecure-registry"),
            &ctx.probe_images,
        )
        .await,
    )
}

/// Probes `insecure` registries and `mirrors` through `docker`, concurrently: for each, a pull
/// of the named probe image it holds (else of a placeholder), and, when a Docker Hub image is
/// named and mirrors are set, a pull of that image by its Hub name.
pub async fn probe_registries(
    docker: &bollard::Docker,
    mirrors: &[String],
    insecure: &[String],
    probe_images: &[String],
) -> Vec<RegistryProbe> {
    let timeout = registries::probe::PROBE_TIMEOUT;
    let (config, _) = registries::auth::load_cli_config().await;
    let mut jobs: Vec<(&'static str, String, String, bool)> = Vec::new();
    for reg in insecure {
        let host = registries::host_key(reg);
        if host.contains('/') || mirrors.iter().any(|m| registries::host_key(m) == host) {
            continue; // CIDR ranges name no host; mirrors are probed below
        }
        let (image, named) = image_for(probe_images, &host);
        jobs.push(("insecure", host, image, named));
    }
    let hub_image = probe_images
        .iter()
        .find(|i| registries::registry_of(i) == "docker.io")
        .cloned();
    for m in mirrors {
        let host = registries::host_key(m);
        let (image, named) = match &hub_image {
            Some(i) => (format!("{host}/{}", hub_path(i)), true),
            None => (format!("{host}/library/{PLACEHOLDER}"), false),
        };
        jobs.push(("mirror", host, image, named));
    }
    if let (Some(i), false) = (&hub_image, mirrors.is_empty()) {
        jobs.push((
            "docker-hub-through-mirrors",
            "docker.io".into(),
            format!("docker.io/{}", hub_path(i)),
            true,
        ));
    }
    let futures = jobs.into_iter().map(|(role, host, image, named)| {
        let creds = registries::auth::stored_credentials(&config, &host);
        async move {
            let p = registries::probe(docker, &image, creds, timeout).await;
            judge(role, &host, named, p)
        }
    });
    futures_util::future::join_all(futures).await
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let mirrors = list(ctx, "registry-mirrors", "registry-mirror");
    let insecure = list(ctx, "insecure-registries", "insecure-registry");
    let base = Finding::new(Status::Ok, String::new())
        .with("registry_mirrors", json!(mirrors))
        .with("insecure_registries", json!(insecure))
        .with("store", ctx.target.as_str())
        .with("engine_version", json!(ctx.version_text()))
        .with("probe_images", json!(ctx.probe_images));
    let certs = registries::certs::certs_dir(&ctx.engine, ctx.info.as_ref());
    // What only the containerd store reads: hosts.toml files with [host] entries. Switching to
    // the classic store, they stop working (seen on 28.5: its classic store ignores them).
    let containerd_only = {
        let certs = certs.clone();
        tokio::task::spawn_blocking(move || hosts_toml_with_hosts(&certs))
            .await
            .unwrap_or_default()
    };
    let reads_hosts_toml = ctx.facts.version.as_ref().is_some_and(|v| v.major >= 28);
    if ctx.switching
        && ctx.target == ImageStore::Classic
        && reads_hosts_toml
        && !containerd_only.is_empty()
    {
        return Finding {
            status: Status::Warn,
            summary: format!(
                "after the switch to the classic store, these registries' certs.d hosts.toml settings stop applying (only the containerd store reads them): {}",
                containerd_only.join(", ")
            ),
            ..base
        }
        .with("certs_dir", certs.display().to_string())
        .with("hosts_toml_registries", json!(containerd_only))
        .fix(Fix::manual(
            "daemon-json-equivalent",
            "Set the equivalent registry-mirrors / insecure-registries in daemon.json before switching",
            &[],
            Some(DOCS),
        ));
    }
    if mirrors.is_empty() && insecure.is_empty() {
        return Finding {
            summary: "no registry mirrors or insecure registries are configured (daemon.json and flags read)".into(),
            ..base
        }
        .with("certs_dir", certs.display().to_string())
        .with("hosts_toml_registries", json!(containerd_only));
    }
    let in_place = {
        let (certs, mirrors, insecure) = (certs.clone(), mirrors.clone(), insecure.clone());
        tokio::task::spawn_blocking(move || plan_hosts_toml(&certs, &mirrors, &insecure))
            .await
            .ok()
            .and_then(|r| r.ok())
            .is_some_and(|c| c.is_empty())
    };
    let base = base
        .with("certs_dir", certs.display().to_string())
        .with("hosts_toml_in_place", in_place);
    let major = ctx.facts.version.as_ref().map(|v| v.major);
    let containerd = ctx.target == ImageStore::Containerd;
    let hosts_fix_for = |helps: bool| {
        (containerd && !in_place && helps).then(|| {
        Fix::automatic(
            "write-hosts-toml",
            format!(
                "Write the equivalent certs.d/<host>/hosts.toml files under {} (preview first; the probes run again after)",
                certs.display()
            ),
        )
    })
    };
    let hosts_fix = hosts_fix_for(true);
    let with_fix = |f: Finding| match &hosts_fix {
        Some(fix) => f.fix(fix.clone()),
        None => f,
    };
    if containerd && major.is_some_and(|m| m < 24) {
        return with_fix(Finding {
            status: Status::Fail,
            summary: "this engine's containerd store ignores registry-mirrors and insecure-registries (as Docker Desktop 4.12 did): pulls go straight to the registry".into(),
            ..base
        })
        .fix(Fix::manual(
            "upgrade-engine",
            "Upgrade to Engine 24.0 or later, which honours them with the containerd store",
            &[],
            Some(DOCS),
        ));
    }
    let Some(probes) = probe_all(ctx).await else {
        return Finding {
            status: Status::Error,
            summary: "the engine did not answer, so whether it honours them is unknown".into(),
            ..base
        };
    };
    let worst = probes.iter().map(|p| p.verdict).max().unwrap_or(Status::Ok);
    let failed: Vec<&RegistryProbe> = probes
        .iter()
        .filter(|p| p.verdict == Status::Fail)
        .collect();
    let failing: Vec<String> = failed
        .iter()
        .map(|p| {
            format!(
                "{} ({}): {}",
                p.registry,
                p.role,
                ctx.door.engine_error(&p.reason, p.probe.error.as_deref())
            )
        })
        .collect();
    // hosts.toml fixes how the engine speaks to a registry it reaches (HTTPS to a plain-HTTP
    // one, an untrusted certificate); before a switch with nothing failing, it prepares the
    // other store. A registry that is not there (refused, unresolved, silent) gets what does
    // fix it instead, in the same words as the summary.
    let hosts_fix = hosts_fix_for(if failed.is_empty() {
        ctx.switching
    } else {
        failed.iter().any(|p| p.probe.outcome.fixed_by_hosts_toml())
    });
    let not_there: Vec<String> = failed
        .iter()
        .filter(|p| !p.probe.outcome.fixed_by_hosts_toml())
        .map(|p| format!("{}: {}", p.registry, p.reason))
        .collect();
    let with_fix = |f: Finding| {
        let f = match &hosts_fix {
            Some(fix) => f.fix(fix.clone()),
            None => f,
        };
        if not_there.is_empty() {
            f
        } else {
            f.fix(Fix::manual(
                "registry-address",
                not_there.join("; "),
                &[],
                Some(DOCS),
            ))
        }
    };
    let hub_proven = probes
        .iter()
        .any(|p| p.role == "docker-hub-through-mirrors" && p.verdict == Status::Ok);
    let base = base.with("probes", json!(probes));
    let active = ctx
        .facts
        .active_store
        .map(|s| s.as_str())
        .unwrap_or("unknown");
    if ctx.switching {
        // Only the running store can be probed; the other one is judged after the switch.
        let now = if failing.is_empty() {
            format!("the probes pass now on the {active} store")
        } else {
            format!(
                "already failing on the {active} store: {}",
                failing.join("; ")
            )
        };
        return with_fix(Finding {
            status: if failing.is_empty() { Status::Warn } else { Status::Fail },
            summary: format!(
                "unverified for the {} store until the switch (only the running store can be probed); {now}; the switch's verify step probes them again and offers a rollback if one stops working",
                ctx.target
            ),
            ..base
        });
    }
    if !failing.is_empty() {
        let still = if containerd && in_place {
            " (the hosts.toml files are in place, and it still fails)"
        } else {
            ""
        };
        return with_fix(Finding {
            status: Status::Fail,
            summary: format!(
                "the engine's probe failed for {}{still}",
                failing.join("; ")
            ),
            ..base
        });
    }
    let mut gaps = Vec::new();
    if !mirrors.is_empty() && !hub_proven {
        gaps.push(format!(
            "whether Docker Hub pulls go through the mirrors is unverified: name a Docker Hub image the mirror holds {}",
            ctx.door.name_probe_images()
        ));
    }
    if worst == Status::Warn {
        gaps.push("a named probe image is missing from its registry".into());
    }
    if gaps.is_empty() {
        Finding {
            summary: format!(
                "proven by pulls through the engine on the {} store: every registry answered",
                ctx.target
            ),
            ..base
        }
    } else {
        with_fix(Finding {
            status: Status::Warn,
            summary: format!(
                "every registry answered the engine, but {}",
                gaps.join("; ")
            ),
            ..base
        })
    }
}

/// The certs.d the engine reads (see [`registries::certs`]).
pub fn certs_dir(ctx: &CheckContext) -> PathBuf {
    registries::certs::certs_dir(&ctx.engine, ctx.info.as_ref())
}

/// The registries (directory names) under `certs` whose hosts.toml has `[host."..."]` entries.
fn hosts_toml_with_hosts(certs: &Path) -> Vec<String> {
    let Ok(dirs) = std::fs::read_dir(certs) else {
        return Vec::new();
    };
    let mut out: Vec<String> = dirs
        .filter_map(|e| e.ok())
        .filter(|e| {
            read_hosts_toml(&e.path().join("hosts.toml"))
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .is_some_and(|t| {
                    t.get("host")
                        .and_then(|h| h.as_table())
                        .is_some_and(|h| !h.is_empty())
                })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// One file the fix would write.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    /// The file.
    pub path: PathBuf,
    /// Its current text (empty when missing).
    pub before: String,
    /// The new text.
    pub after: String,
    /// Unified diff.
    pub diff: String,
}

use registries::host_key;

/// One `[host."URL"]` entry of a hosts.toml.
struct HostEntry {
    url: String,
    push: bool,
    skip_verify: bool,
}

/// The hosts.toml of one registry: its directory name under certs.d, server and hosts.
struct RegistryHosts {
    dir: String,
    server: String,
    hosts: Vec<HostEntry>,
}

/// The hosts.toml edits equivalent to `mirrors` (for docker.io) and `insecure` registries.
pub fn plan_hosts_toml(
    certs: &Path,
    mirrors: &[String],
    insecure: &[String],
) -> Result<Vec<FileChange>> {
    let mut wanted: Vec<RegistryHosts> = Vec::new();
    if !mirrors.is_empty() {
        let hosts = mirrors
            .iter()
            .map(|m| HostEntry {
                url: if m.contains("://") {
                    m.trim_end_matches('/').to_string()
                } else {
                    format!("https://{m}")
                },
                push: false,
                skip_verify: insecure.iter().any(|i| host_key(i) == host_key(m)),
            })
            .collect();
        wanted.push(RegistryHosts {
            dir: "docker.io".into(),
            server: "https://registry-1.docker.io".into(),
            hosts,
        });
    }
    for reg in insecure {
        let host = host_key(reg);
        if host.contains('/') || mirrors.iter().any(|m| host_key(m) == host) {
            continue; // CIDR ranges cannot be expressed per host; mirrors are handled above
        }
        wanted.push(RegistryHosts {
            dir: host.clone(),
            server: format!("https://{host}"),
            hosts: vec![HostEntry {
                url: format!("http://{host}"),
                push: true,
                skip_verify: true,
            }],
        });
    }
    let mut out = Vec::new();
    for RegistryHosts { dir, server, hosts } in wanted {
        let path = certs.join(&dir).join("hosts.toml");
        let before = read_hosts_toml(&path)?;
        let mut doc: DocumentMut = before.parse().map_err(|e: toml_edit::TomlError| {
            Error::parse_at(&path, &before, e.span().map(|s| s.start), e.message())
        })?;
        if doc.get("server").is_none() {
            doc["server"] = value(server.as_str());
        }
        if doc.get("host").is_none() {
            let mut t = Table::new();
            t.set_implicit(true);
            doc["host"] = Item::Table(t);
        }
        let host_table = doc["host"].as_table_mut().ok_or_else(|| Error::Field {
            path: path.clone(),
            field: "host".into(),
            message: "must be a table".into(),
        })?;
        for HostEntry {
            url,
            push,
            skip_verify,
        } in hosts
        {
            if host_table.contains_key(&url) {
                continue; // keep what the user wrote
            }
            let mut t = Table::new();
            let mut caps = Array::new();
            caps.push("pull");
            caps.push("resolve");
            if push {
                caps.push("push");
            }
            t["capabilities"] = value(caps);
            if skip_verify {
                t["skip_verify"] = value(true);
            }
            host_table.insert(&url, Item::Table(t));
        }
        let after = doc.to_string();
        if after != before {
            let diff = crate::daemon_json::diff::unified_diff(&path, &before, &after);
            out.push(FileChange {
                path,
                before,
                after,
                diff,
            });
        }
    }
    Ok(out)
}

/// A hosts.toml's text; a missing file is empty. An unreadable or non-UTF-8 file is an error,
/// never taken for an empty one (which would replace it).
fn read_hosts_toml(path: &Path) -> Result<String> {
    // Only a regular file (or a link to one) is read: a FIFO would hang the check.
    match crate::userfile::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            Error::parse_at(
                path,
                &text,
                Some(valid),
                "invalid UTF-8 (TOML files are UTF-8)",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(path, "read", e)),
    }
}

/// The fix for this engine.
pub fn plan_fix(ctx: &CheckContext) -> Result<Vec<FileChange>> {
    plan_hosts_toml(
        &certs_dir(ctx),
        &list(ctx, "registry-mirrors", "registry-mirror"),
        &list(ctx, "insecure-registries", "insecure-registry"),
    )
}

/// Writes the planned files atomically (a changed file on disk since the plan is refused).
pub fn apply_fix(changes: &[FileChange]) -> Result<()> {
    use std::io::Write;
    for c in changes {
        let now = read_hosts_toml(&c.path)?;
        if now != c.before {
            return Err(Error::ConcurrentModification {
                path: c.path.clone(),
            });
        }
        let dir = c.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io(dir, "create temporary file", e))?;
        tmp.write_all(c.after.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io(&c.path, "write", e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(&c.path)
            .map_err(|e| Error::io(&c.path, "replace", e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_and_insecure_registries_become_hosts_toml() {
        let dir = tempfile::tempdir().unwrap();
        let changes = plan_hosts_toml(
            dir.path(),
            &["https://mirror.example.com".into()],
            &["registry.lan:5000".into()],
        )
        .unwrap();
        assert_eq!(changes.len(), 2);
        let hub: toml::Table = toml::from_str(&changes[0].after).unwrap();
        assert_eq!(hub["server"].as_str(), Some("https://registry-1.docker.io"));
        assert_eq!(
            hub["host"]["https://mirror.example.com"]["capabilities"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(changes[0].path.ends_with("docker.io/hosts.toml"));
        let lan: toml::Table = toml::from_str(&changes[1].after).unwrap();
        assert_eq!(
            lan["host"]["http://registry.lan:5000"]["skip_verify"].as_bool(),
            Some(true)
        );
    }

    #[test]
    fn existing_files_keep_their_content_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("docker.io/hosts.toml");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "# mine\nserver = \"https://registry-1.docker.io\"\n\n[host.\"https://other.example\"]\n  capabilities = [\"pull\"]\n").unwrap();
        let changes =
            plan_hosts_toml(dir.path(), &["https://mirror.example.com".into()], &[]).unwrap();
        assert!(changes[0].after.starts_with("# mine\nserver = \"https://registry-1.docker.io\"\n\n[host.\"https://other.example\"]\n  capabilities = [\"pull\"]\n"));
        assert!(changes[0]
            .after
            .contains("[host.\"https://mirror.example.com\"]"));
        apply_fix(&changes).unwrap();
        assert!(
            plan_hosts_toml(dir.path(), &["https://mirror.example.com".into()], &[])
                .unwrap()
                .is_empty(),
            "idempotent"
        );
    }
}
