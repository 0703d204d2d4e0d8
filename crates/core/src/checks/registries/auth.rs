//! What the docker CLI config (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`)
//! holds for a registry host: a stored login (`auths`), a per-host credential helper
//! (`credHelpers`) or a default store (`credsStore`). Stored logins are turned into the
//! credentials a probe sends; helpers are only named (Stowage does not run them).

use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde::Serialize;
use serde_json::Value;

/// Docker Hub's key in `auths`.
pub const HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Where the docker CLI keeps its config for this process.
pub fn cli_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".docker/config.json"))
}

/// How the CLI config provides credentials for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialSource {
    /// A login stored in `auths`.
    Stored,
    /// `credHelpers[host]`: `docker-credential-NAME`.
    Helper {
        /// The helper's name.
        name: String,
    },
    /// `credsStore`: the default store for every host.
    Store {
        /// The store's name.
        name: String,
    },
    /// Nothing for this host.
    None,
}

/// The `auths` key(s) the CLI uses for `host`.
fn auth_keys(host: &str) -> Vec<String> {
    if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
        vec![
            HUB_AUTH_KEY.into(),
            "docker.io".into(),
            "index.docker.io".into(),
        ]
    } else {
        vec![
            host.to_string(),
            format!("https://{host}"),
            format!("http://{host}"),
        ]
    }
}

/// Where credentials for `host` would come from, in the CLI's order (helper, stored, store).
pub fn source_for(config: &Value, host: &str) -> CredentialSource {
    let keys = auth_keys(host);
    if let Some(name) = keys
        .iter()
        .find_map(|k| config["credHelpers"][k.as_str()].as_str())
    {
        return CredentialSource::Helper { name: name.into() };
    }
    if let Some(name) = config["credsStore"].as_str().filter(|s| !s.is_empty()) {
        return CredentialSource::Store { name: name.into() };
    }
    if keys.iter().any(|k| config["auths"][k.as_str()].is_object()) {
        return CredentialSource::Stored;
    }
    CredentialSource::None
}

/// The stored login for `host` (`auths[host].auth`, base64 of `user:password`).
pub fn stored_credentials(config: &Value, host: &str) -> Option<DockerCredentials> {
    let entry = auth_keys(host)
        .into_iter()
        .find_map(|k| config["auths"].get(&k).cloned())?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(DockerCredentials {
        username: Some(user.into()),
        password: Some(password.into()),
        serveraddress: Some(host.into()),
        ..Default::default()
    })
}

/// The exact command that logs in to `host`.
pub fn login_command(host: &str) -> String {
    if host == "docker.io" {
        "docker login".into()
    } else {
        format!("docker login {host}")
    }
}

/// Reads the CLI config (missing or unreadable: an empty object, with why).
pub async fn load_cli_config() -> (Value, Option<String>) {
    let Some(path) = cli_config_path() else {
        return (Value::Object(Default::default()), None);
    };
    let read = tokio::task::spawn_blocking(move || {
        let r = crate::userfile::read(&path);
        (path, r)
    })
    .await;
    match read {
        Ok((_, Ok(bytes))) => match serde_json::from_slice(&bytes) {
            Ok(v) => (v, None),
            Err(e) => (Value::Object(Default::default()), Some(e.to_string())),
        },
        Ok((_, Err(e))) if e.kind() == std::io::ErrorKind::NotFound => {
            (Value::Object(Default::default()), None)
        }
        Ok((p, Err(e))) => (
            Value::Object(Default::default()),
            Some(format!("{}: {e}", p.display())),
        ),
        Err(e) => (Value::Object(Default::default()), Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_follow_the_clis_order() {
        let c = json!({
            "auths": {"127.0.0.1:5000": {"auth": "YWxpY2U6c2VjcmV0"}, "https://index.docker.io/v1/": {}},
            "credHelpers": {"ghcr.io": "gh"}
        });
        assert_eq!(source_for(&c, "127.0.0.1:5000"), CredentialSource::Stored);
        assert_eq!(source_for(&c, "docker.io"), CredentialSource::Stored);
        assert_eq!(
            source_for(&c, "ghcr.io"),
            CredentialSource::Helper { name: "gh".into() }
        );
        assert_eq!(source_for(&c, "quay.io"), CredentialSource::None);
        let creds = stored_credentials(&c, "127.0.0.1:5000").unwrap();
        assert_eq!(creds.username.as_deref(), Some("alice"));
        assert_eq!(creds.password.as_deref(), Some("secret"));
        assert!(
            stored_credentials(&c, "docker.io").is_none(),
            "no auth field"
        );
        let store = json!({"credsStore": "pass"});
        assert_eq!(
            source_for(&store, "quay.io"),
            CredentialSource::Store {
                name: "pass".into()
            }
        );
        assert_eq!(login_command("quay.io"), "docker login quay.io");
    }
}
