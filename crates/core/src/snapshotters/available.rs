//! What the engine's containerd offers: its snapshotter plugins (the introspection API: loaded,
//! or the error that kept each one from loading, such as a filesystem that is not btrfs), and
//! the proxy snapshotters a system containerd's config declares (with whether their daemon's
//! socket answers). Each with why it is or is not usable.

use std::path::PathBuf;

use containerd_client::services::v1::PluginsRequest;
use containerd_client::tonic::Request;
use serde::Serialize;

use super::proxy::{proxy_snapshotters, socket_answers};
use crate::engine::Engine;
use crate::stores::location::{containerd_root, ContainerdRoot};

/// containerd's plugin type of snapshotters.
const SNAPSHOTTER_TYPE: &str = "io.containerd.snapshotter.v1";

/// Snapshotters containerd builds in on other systems only, never listed.
const NOT_ON_LINUX: &[&str] = &["windows", "windows-lcow"];

/// Where a snapshotter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Built into containerd (overlayfs, native, btrfs, zfs, devmapper, ...).
    Builtin,
    /// A `proxy_plugins` entry of a system containerd's config (its own daemon).
    Proxy,
}

/// One snapshotter and whether the containerd image store can run on it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshotter {
    /// Its name, as `storage-driver` spells it.
    pub name: String,
    /// Built in or a proxy.
    pub source: Source,
    /// Whether choosing it would work now.
    pub usable: bool,
    /// Why (or why not), as a sentence.
    pub reason: String,
}

/// What the engine's containerd offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// The containerd socket asked.
    pub socket: Option<PathBuf>,
    /// Whether it is the containerd dockerd starts itself.
    pub managed: bool,
    /// The system containerd's config file that was read, if any.
    pub config: Option<PathBuf>,
    /// The snapshotters, built-in ones first (containerd's order), then proxies.
    pub snapshotters: Vec<Snapshotter>,
    /// Why containerd could not be asked, when it could not.
    pub error: Option<String>,
    /// A note on proxy snapshotters (the managed containerd cannot load them).
    pub note: Option<String>,
}

impl Availability {
    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&Snapshotter> {
        self.snapshotters.iter().find(|s| s.name == name)
    }

    /// Why `name` cannot be chosen (`None` when it can): not usable, or not offered at all.
    pub fn refusal(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(s) if s.usable => None,
            Some(s) => Some(format!("snapshotter `{name}` is not usable: {}", s.reason)),
            None => {
                let offered: Vec<&str> = self
                    .snapshotters
                    .iter()
                    .filter(|s| s.usable)
                    .map(|s| s.name.as_str())
                    .collect();
                let mut text = match &self.error {
                    Some(e) => format!(
                        "snapshotter `{name}` cannot be checked: the engine's containerd did not answer ({e})"
                    ),
                    None => format!(
                        "the engine's containerd offers no snapshotter `{name}` (usable: {})",
                        if offered.is_empty() {
                            "none".to_string()
                        } else {
                            offered.join(", ")
                        }
                    ),
                };
                if let Some(note) = &self.note {
                    text.push_str("; ");
                    text.push_str(note);
                }
                Some(text)
            }
        }
    }
}

/// Asks the engine's containerd for its snapshotters, and reads a system containerd's
/// `proxy_plugins`.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn available(engine: &Engine) -> Availability {
    let root = {
        let e = engine.clone();
        tokio::task::spawn_blocking(move || containerd_root(&e, None))
            .await
            .ok()
    };
    let (managed, config) = match &root {
        Some(ContainerdRoot::System { config, .. }) => (false, config.clone()),
        _ => (true, None),
    };
    let mut out = Availability {
        socket: engine.containerd_address().ok(),
        managed,
        config: config.clone(),
        snapshotters: Vec::new(),
        error: None,
        note: managed.then(|| super::MANAGED_NO_PROXY.to_string()),
    };
    let loaded = match &out.socket {
        Some(socket) => match plugins(socket).await {
            Ok(list) => list,
            Err(e) => {
                out.error = Some(e);
                Vec::new()
            }
        },
        None => {
            out.error = Some("its socket is not known".into());
            Vec::new()
        }
    };
    let proxies = match &config {
        Some(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || crate::userfile::read_to_string(&path))
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|text| proxy_snapshotters(&text))
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    for (name, init_err) in &loaded {
        if proxies.iter().any(|p| &p.name == name) {
            continue;
        }
        out.snapshotters.push(Snapshotter {
            name: name.clone(),
            source: Source::Builtin,
            usable: init_err.is_none(),
            reason: match init_err {
                None => "loaded by containerd".into(),
                Some(e) => format!("containerd could not load it: {e}"),
            },
        });
    }
    for p in proxies {
        let loaded_here = loaded.iter().find(|(n, _)| *n == p.name);
        let answers = socket_answers(&p.address).await;
        let (usable, reason) = match (loaded_here, answers) {
            (Some((_, Some(e))), _) => (false, format!("containerd could not load it: {e}")),
            (None, _) if out.error.is_none() => (
                false,
                format!(
                    "declared in {} but containerd has not loaded it: restart containerd",
                    config
                        .as_deref()
                        .unwrap_or(std::path::Path::new("?"))
                        .display()
                ),
            ),
            (_, false) => (
                false,
                format!(
                    "its daemon does not answer on {} (is its service running?)",
                    p.address.display()
                ),
            ),
            (_, true) => (
                true,
                format!(
                    "a proxy snapshotter; its daemon answers on {}",
                    p.address.display()
                ),
            ),
        };
        out.snapshotters.push(Snapshotter {
            name: p.name,
            source: Source::Proxy,
            usable,
            reason,
        });
    }
    out
}

/// containerd's snapshotter plugins: name and the error that kept it from loading.
async fn plugins(socket: &std::path::Path) -> Result<Vec<(String, Option<String>)>, String> {
    let client = crate::stores::containerd::connect(socket)
        .await
        .map_err(|e| e.to_string())?;
    let resp = client
        .introspection()
        .plugins(Request::new(PluginsRequest {
            filters: vec![format!("type=={SNAPSHOTTER_TYPE}")],
        }))
        .await
        .map_err(|e| e.message().to_string())?;
    Ok(resp
        .into_inner()
        .plugins
        .into_iter()
        .filter(|p| p.r#type == SNAPSHOTTER_TYPE && !NOT_ON_LINUX.contains(&p.id.as_str()))
        .map(|p| {
            // containerd ends a skipped plugin's error with its own ": skip plugin".
            let err = p
                .init_err
                .map(|s| s.message.trim_end_matches(": skip plugin").to_string())
                .filter(|m| !m.is_empty());
            (p.id, err)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avail(list: &[(&str, bool)], note: bool) -> Availability {
        Availability {
            socket: None,
            managed: note,
            config: None,
            snapshotters: list
                .iter()
                .map(|(n, u)| Snapshotter {
                    name: n.to_string(),
                    source: Source::Builtin,
                    usable: *u,
                    reason: if *u {
                        "loaded".into()
                    } else {
                        "path must be a btrfs filesystem".into()
                    },
                })
                .collect(),
            error: None,
            note: note.then(|| super::super::MANAGED_NO_PROXY.to_string()),
        }
    }

    #[test]
    fn a_refusal_says_why_and_what_is_usable() {
        let a = avail(
            &[("overlayfs", true), ("native", true), ("btrfs", false)],
            true,
        );
        assert_eq!(a.refusal("native"), None);
        let btrfs = a.refusal("btrfs").unwrap();
        assert!(btrfs.contains("btrfs filesystem"), "{btrfs}");
        let stargz = a.refusal("stargz").unwrap();
        assert!(stargz.contains("usable: overlayfs, native"), "{stargz}");
        assert!(
            stargz.contains("cannot load proxy snapshotters"),
            "{stargz}"
        );
    }
}
