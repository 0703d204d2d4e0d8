//! `registry-mirrors`: mirrors and insecure registries under the containerd store, and the fix
//! that writes the equivalent containerd-style `certs.d/<host>/hosts.toml` files (which Engine
//! 28+ reads) with toml_edit, keeping anything already in them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use toml_edit::{value, Array, DocumentMut, Item, Table};

use super::{CheckContext, Finding, Fix, Status};
use crate::daemon_json::KeyPath;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};

const DOCS: &str = "https://docs.docker.com/engine/daemon/registry-mirror/";

fn list(ctx: &CheckContext, key: &str, flag: &str) -> Vec<String> {
    let mut out: Vec<String> = ctx
        .facts
        .doc
        .get(&KeyPath::top(key))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.extend(
        ctx.facts
            .args
            .flags
            .iter()
            .filter(|(n, _)| n == flag)
            .filter_map(|(_, v)| v.clone()),
    );
    out
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let mirrors = list(ctx, "registry-mirrors", "registry-mirror");
    let insecure = list(ctx, "insecure-registries", "insecure-registry");
    let base = Finding::new(Status::Ok, String::new())
        .with("registry_mirrors", json!(mirrors))
        .with("insecure_registries", json!(insecure))
        .with("store", ctx.target.as_str())
        .with("engine_version", json!(ctx.version_text()));
    if mirrors.is_empty() && insecure.is_empty() {
        return Finding {
            summary: "no registry mirrors or insecure registries are configured".into(),
            ..base
        };
    }
    if ctx.target == ImageStore::Classic {
        return Finding {
            summary: "the classic store honours registry-mirrors and insecure-registries".into(),
            ..base
        };
    }
    // Whether the equivalent hosts.toml files are already in place (a file that cannot be read
    // or parsed counts as not in place: the fix's preview says why).
    let certs = certs_dir(&ctx.engine.config_file);
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
    let fix = Fix::automatic(
        "write-hosts-toml",
        format!(
            "Write the equivalent certs.d/<host>/hosts.toml files under {} (preview first)",
            certs.display()
        ),
    );
    let unverified =
        "not proven by a pull through them: Stowage judged it from the engine's version";
    let files = if in_place {
        "the equivalent certs.d/<host>/hosts.toml files are in place"
    } else {
        "Stowage can also write the equivalent certs.d/<host>/hosts.toml files"
    };
    let finding = match ctx.facts.version.as_ref().map(|v| v.major) {
        None => return Finding { status: Status::Error, summary: "the engine did not answer, so whether it honours them is unknown".into(), ..base },
        Some(m) if m < 24 => return Finding {
            status: Status::Fail,
            summary: "this engine's containerd store ignores registry-mirrors and insecure-registries (as Docker Desktop 4.12 did): pulls go straight to the registry".into(),
            ..base
        }
        .fix(Fix::manual("upgrade-engine", "Upgrade to Engine 24.0 or later, which honours them with the containerd store", &[], Some(DOCS))),
        Some(m) if m < 28 => Finding {
            status: Status::Warn,
            summary: format!("this engine should honour registry-mirrors (for Docker Hub) and insecure-registries with the containerd store, {unverified}; {files}"),
            ..base
        },
        Some(_) => Finding {
            status: Status::Warn,
            summary: format!("Engine 28+ should honour them with the containerd store and also reads per-registry certs.d/<host>/hosts.toml (in the engine's certs.d, not /etc/containerd/certs.d), {unverified}; {files}"),
            ..base
        },
    };
    if in_place {
        finding
    } else {
        finding.fix(fix)
    }
}

/// `certs.d` beside the engine's daemon.json (`/etc/docker/certs.d`, `~/.config/docker/certs.d`).
pub fn certs_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new("/etc/docker"))
        .join("certs.d")
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

fn host_key(addr: &str) -> String {
    addr.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

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
        &certs_dir(&ctx.engine.config_file),
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
