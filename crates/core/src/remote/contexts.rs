//! The docker CLI's contexts (`docker context ls`), read from its config folder: each names an
//! engine address (`unix://`, `tcp://`, `ssh://`).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One docker context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerContext {
    /// Its name (`default` is the CLI's built-in one).
    pub name: String,
    /// The engine address (`Endpoints.docker.Host`).
    pub host: String,
    /// Its description, when it has one.
    pub description: Option<String>,
    /// Whether it is the current one (`DOCKER_CONTEXT`, else `currentContext` in config.json).
    pub current: bool,
}

impl DockerContext {
    /// The kind of address: `ssh`, `tcp`, `unix`, or `other`.
    pub fn transport(&self) -> &'static str {
        transport(&self.host)
    }
}

/// The kind of an engine address.
pub fn transport(host: &str) -> &'static str {
    match host.split_once("://").map(|(s, _)| s) {
        Some("ssh") => "ssh",
        Some("tcp") | Some("http") | Some("https") => "tcp",
        Some("unix") | Some("npipe") => "unix",
        _ => "other",
    }
}

/// The docker CLI's config folder: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            directories::BaseDirs::new()
                .map(|b| b.home_dir().join(".docker"))
                .unwrap_or_else(|| PathBuf::from("/.docker"))
        })
}

/// The current context's name: `DOCKER_CONTEXT`, else `currentContext`, else `default`.
pub fn current_name(dir: &Path) -> String {
    std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v.get("currentContext")?
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".into())
}

/// Every context in `dir` (the docker CLI's config folder), `default` first (its address is
/// `DOCKER_HOST` or the system socket), then by name. A context folder whose meta.json cannot
/// be read is left out (and logged).
pub fn list(dir: &Path) -> Vec<DockerContext> {
    let current = current_name(dir);
    let mut out = vec![DockerContext {
        name: "default".into(),
        host: std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into()),
        description: Some("Current DOCKER_HOST based configuration".into()),
        current: current == "default",
    }];
    let mut named = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("contexts/meta")) {
        for entry in entries.flatten() {
            let meta = entry.path().join("meta.json");
            match read_meta(&meta) {
                Some((name, host, description)) => named.push(DockerContext {
                    current: name == current,
                    name,
                    host,
                    description,
                }),
                None => {
                    tracing::info!(file = %meta.display(), "a docker context that cannot be read is left out")
                }
            }
        }
    }
    named.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(named);
    out
}

/// The context named `name` in `dir`.
pub fn find(dir: &Path, name: &str) -> Option<DockerContext> {
    list(dir).into_iter().find(|c| c.name == name)
}

fn read_meta(path: &Path) -> Option<(String, String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let name = v.get("Name")?.as_str()?.to_string();
    let host = v.pointer("/Endpoints/docker/Host")?.as_str()?.to_string();
    let description = v
        .pointer("/Metadata/Description")
        .and_then(|d| d.as_str())
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    Some((name, host, description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Writes a context as `docker context create` does (folder named by the name's sha256).
    fn write_context(dir: &Path, name: &str, host: &str) {
        let id = format!("{:x}", sha2::Sha256::digest(name.as_bytes()));
        let d = dir.join("contexts/meta").join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("meta.json"),
            serde_json::json!({"Name": name, "Metadata": {"Description": format!("{name} server")},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}})
            .to_string(),
        )
        .unwrap();
    }

    #[test]
    fn contexts_are_listed_with_their_transport_and_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "web2", "ssh://ops@web2");
        write_context(dir.path(), "web1", "ssh://ops@web1:2222");
        write_context(dir.path(), "ci", "tcp://10.0.0.5:2376");
        std::fs::create_dir_all(dir.path().join("contexts/meta/broken")).unwrap();
        std::fs::write(dir.path().join("contexts/meta/broken/meta.json"), "{").unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"web1"}"#,
        )
        .unwrap();
        let all = list(dir.path());
        let names: Vec<_> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["default", "ci", "web1", "web2"]);
        assert_eq!(all[2].transport(), "ssh");
        assert_eq!(all[1].transport(), "tcp");
        assert!(all[2].current && !all[0].current);
        assert_eq!(all[3].description.as_deref(), Some("web2 server"));
        assert_eq!(find(dir.path(), "web2").unwrap().host, "ssh://ops@web2");
        assert_eq!(find(dir.path(), "nope"), None);
    }
}
