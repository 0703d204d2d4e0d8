//! Finding the buildx CLI plugin the way the docker CLI does, and reading its version.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// Environment variable that names the buildx plugin to use (tests point it at fake plugins).
pub const BUILDX_ENV: &str = "STOWAGE_BUILDX";

/// The buildx plugin found and what it said about itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BuildxInfo {
    /// The plugin binary.
    pub path: PathBuf,
    /// The raw `docker buildx version` line.
    pub raw: String,
    /// The parsed version, when the line could be read.
    pub version: Option<semver::Version>,
}

/// Parses `docker buildx version` output in all real shapes: upstream
/// `github.com/docker/buildx v0.13.1 <sha>`, Debian `github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3`,
/// Desktop `v0.14.0-desktop.1`, dev `v0.x.y-N-gSHA`. Field 2, leading `v` stripped, cut at `+`/`-`.
pub fn parse_version(output: &str) -> Option<semver::Version> {
    let line = output.lines().find(|l| !l.trim().is_empty())?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let field = match fields.as_slice() {
        [_, v, ..] => *v,
        [v] => *v,
        [] => return None,
    };
    let v = field.strip_prefix('v').unwrap_or(field);
    let core = v.split(['+', '-']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some(semver::Version::new(major, minor, patch))
}

/// Where the docker CLI looks for plugins, in its order: `cliPluginsExtraDirs` from the CLI
/// config, `~/.docker/cli-plugins`, then the system directories.
pub fn plugin_dirs(docker_config_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let config_dir = docker_config_dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("DOCKER_CONFIG").map(PathBuf::from))
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".docker")));
    if let Some(cfg) = &config_dir {
        if let Ok(text) = std::fs::read_to_string(cfg.join("config.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(extra) = v.get("cliPluginsExtraDirs").and_then(|x| x.as_array()) {
                    dirs.extend(extra.iter().filter_map(|d| d.as_str()).map(PathBuf::from));
                }
            }
        }
        dirs.push(cfg.join("cli-plugins"));
    }
    for d in [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The buildx plugin binary: `override_path`, else `$STOWAGE_BUILDX`, else the CLI's plugin dirs.
pub fn find(override_path: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = override_path {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(BUILDX_ENV) {
        return Some(PathBuf::from(p));
    }
    plugin_dirs(None)
        .into_iter()
        .map(|d| d.join("docker-buildx"))
        .find(|p| super::is_executable(p))
}

/// Runs `<plugin> version` (as `docker buildx version` would) with a timeout.
#[tracing::instrument(level = "debug")]
pub async fn detect(override_path: Option<&Path>) -> Option<BuildxInfo> {
    let path = find(override_path)?;
    let run = tokio::process::Command::new(&path)
        .arg("version")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .ok()?
        .ok()?;
    let raw = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some(BuildxInfo {
        version: parse_version(&raw),
        path,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_real_shape() {
        let v = |s| parse_version(s).map(|v| v.to_string());
        assert_eq!(
            v("github.com/docker/buildx v0.13.1 788433953af10f2a698f5c07611dddce2e08c7a0")
                .as_deref(),
            Some("0.13.1")
        );
        assert_eq!(
            v("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3").as_deref(),
            Some("0.13.1")
        );
        assert_eq!(
            v("github.com/docker/buildx v0.14.0-desktop.1 3f1b1b1").as_deref(),
            Some("0.14.0")
        );
        assert_eq!(
            v("github.com/docker/buildx v0.8.2-12-g1a2b3c4.m 1a2b3c4.m").as_deref(),
            Some("0.8.2")
        );
        assert_eq!(v("").as_deref(), None);
        assert_eq!(v("github.com/docker/buildx unknown").as_deref(), None);
    }
}
