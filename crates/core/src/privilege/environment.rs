//! Where the root side's environment and files come from: nothing of the calling user's.

use std::path::PathBuf;

use crate::paths::StowagePaths;

/// The only PATH the root side uses.
pub const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment the root side runs with: a fixed PATH, root's HOME, a plain locale, and
/// `PKEXEC_UID` (kept so the rules still apply to anything this process starts).
pub fn clean_environment(pkexec_uid: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), ROOT_PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ];
    if let Some(uid) = pkexec_uid {
        env.push((super::PKEXEC_UID_ENV.to_string(), uid.to_string()));
    }
    env
}

/// Replaces this process's environment with [`clean_environment`]: no `DOCKER_HOST`,
/// `DOCKER_CONTEXT`, `DOCKER_CONFIG`, `STOWAGE_*`, `XDG_*`, `RUST_LOG` of the caller's. pkexec
/// already clears most of it; this does not rely on that. Call it first thing in `main`,
/// before any thread starts (the environment is process-wide).
pub fn apply_clean_environment() {
    let uid = std::env::var(super::PKEXEC_UID_ENV).ok();
    let keep = clean_environment(uid.as_deref());
    let names: Vec<_> = std::env::vars_os().map(|(k, _)| k).collect();
    for name in names {
        std::env::remove_var(name);
    }
    for (k, v) in keep {
        std::env::set_var(k, v);
    }
}

/// Stowage's own directories for the root side: `/etc/stowage` (the engines file),
/// `/var/lib/stowage` (temporary migration archives, logs of daemons it restarts),
/// `/var/log/stowage`. Locks of root's engines are under `/run/stowage/locks` and backups of
/// daemon.json next to it, as for any root run.
pub fn root_paths() -> StowagePaths {
    StowagePaths {
        config_dir: PathBuf::from("/etc/stowage"),
        data_dir: PathBuf::from("/var/lib/stowage"),
        state_dir: PathBuf::from("/var/log/stowage"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_environment_is_fixed_and_keeps_only_the_caller_uid() {
        let env = clean_environment(Some("1000"));
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "LANG", "PKEXEC_UID"]);
        assert!(env.contains(&("HOME".into(), "/root".into())));
        assert!(!root_paths().config_dir.starts_with("/home"));
        assert_eq!(root_paths().config_dir, PathBuf::from("/etc/stowage"));
    }
}
