//! The diagnostics bundle the About page exports: versions, the engine's status and features,
//! daemon.json and Stowage's settings with secrets redacted, and recent daemon and app log lines,
//! as one JSON file, with the known-issue checks' results and evidence.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Key names whose values are secrets, matched case-insensitively as substrings.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "auth",
    "credential",
    "private",
    "apikey",
    "api_key",
];

/// Whether a key name holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// `scheme://user:pass@host` -> `scheme://<redacted>@host`, anywhere in `text`.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A JSON value with secret keys' values and URL credentials redacted.
pub fn redact_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        Value::String(s) => Value::String(redact_url_credentials(s)),
        other => other.clone(),
    }
}

/// A TOML or log text with `secret_key = value` / `secret_key: value` lines and URL credentials
/// redacted.
pub fn redact_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = redact_url_credentials(line);
            let sep = line.find(['=', ':']);
            match sep {
                Some(i) if is_secret_key(line[..i].trim().trim_matches('"')) => {
                    format!("{}{} {REDACTED}", &line[..i], &line[i..=i])
                }
                _ => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// daemon.json text, redacted (pretty-printed JSON; the text itself when it does not parse).
pub fn redact_daemon_json(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => redact_json(&v),
        Err(_) => Value::String(redact_text(text)),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (UTC).
pub fn utc_timestamp(secs: u64) -> String {
    stowage_core::time::rfc3339(secs as i64)
}

/// The newest `n` lines of Stowage's own log files in `dir`.
pub fn app_log_tail(dir: &Path, n: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .last()
        .map(|f| stowage_core::supervise::tail_lines(f, n))
        .unwrap_or_default()
        .into_iter()
        .map(|l| redact_text(&l))
        .collect()
}

/// Assembles the bundle.
pub struct Parts {
    pub now_secs: u64,
    pub app_version: String,
    pub status: Value,
    pub features: Value,
    pub daemon_json: Option<String>,
    pub settings_toml: Option<String>,
    pub daemon_log: Vec<String>,
    pub app_log: Vec<String>,
    /// The known-issue checks' results (with evidence), or why they could not run.
    pub checks: Value,
}

/// The bundle as JSON.
pub fn build(p: &Parts) -> Value {
    json!({
        "generated_at": utc_timestamp(p.now_secs),
        "app": {"name": crate::PRODUCT_NAME, "version": p.app_version, "tauri": tauri::VERSION},
        "os": os_release(),
        "status": redact_json(&p.status),
        "features": p.features,
        "daemon_json": p.daemon_json.as_deref().map(redact_daemon_json),
        "settings_toml": p.settings_toml.as_deref().map(redact_text),
        "daemon_log": p.daemon_log.iter().map(|l| redact_text(l)).collect::<Vec<_>>(),
        "app_log": p.app_log,
        "checks": redact_json(&p.checks),
    })
}

fn os_release() -> Value {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let pretty = text
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|s| s.trim_matches('"').to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string());
    json!({"name": pretty, "kernel": kernel, "arch": std::env::consts::ARCH})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_daemon_json_are_redacted_and_the_rest_kept() {
        let text = r#"{
  "registry-mirrors": ["https://bob:hunter2@mirror.example.com/v2"],
  "proxies": {"http-proxy": "http://u:p@proxy:3128", "no-proxy": "localhost"},
  "log-opts": {"splunk-token": "abc123", "max-size": "10m"},
  "features": {"containerd-snapshotter": true}
}"#;
        let v = redact_daemon_json(text);
        assert_eq!(
            v["registry-mirrors"][0],
            "https://<redacted>@mirror.example.com/v2"
        );
        assert_eq!(v["proxies"]["http-proxy"], "http://<redacted>@proxy:3128");
        assert_eq!(v["proxies"]["no-proxy"], "localhost");
        assert_eq!(v["log-opts"]["splunk-token"], REDACTED);
        assert_eq!(v["log-opts"]["max-size"], "10m");
        assert_eq!(v["features"]["containerd-snapshotter"], true);
        let s = v.to_string();
        assert!(
            !s.contains("hunter2") && !s.contains("abc123") && !s.contains("u:p@"),
            "{s}"
        );
    }

    #[test]
    fn secrets_in_text_are_redacted() {
        let t = "default_engine = \"lab\"\napi_token = \"xyz\"\nhost = \"tcp://a:b@h:2376\"\n";
        let r = redact_text(t);
        assert!(r.contains("default_engine = \"lab\""), "{r}");
        assert!(r.contains("api_token = <redacted>"), "{r}");
        assert!(r.contains("tcp://<redacted>@h:2376"), "{r}");
        assert!(!r.contains("xyz"));
        assert_eq!(
            redact_url_credentials("see https://example.com/x"),
            "see https://example.com/x"
        );
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
