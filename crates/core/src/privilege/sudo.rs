//! Root for a change asked without a terminal (over ssh, from the fleet or Ansible): `sudo`
//! when it lets this user in without a password, else a refusal that says so. A password is
//! never asked for where nobody can type it.

use std::path::Path;

use crate::error::Error;

/// Whether `sudo -n` runs `program` for this user without asking for a password (`sudo -n -l
/// PROGRAM`: a rule may allow just that program, e.g. `ops ALL=(root) NOPASSWD: /usr/bin/stowctl`).
pub async fn passwordless(program: &Path) -> bool {
    let Some(sudo) = crate::tools::which("sudo") else {
        return false;
    };
    tokio::process::Command::new(sudo)
        .args(["-n", "-l"])
        .arg(program)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The refusal when root is needed and `sudo` would ask for a password (or is not there).
pub fn needs_password(config_file: &Path) -> Error {
    Error::PermissionDenied {
        path: config_file.to_path_buf(),
        hint: Some(
            "this change needs root, and sudo here needs a password, which cannot be typed \
             through --json (over ssh, a fleet or Ansible): log in as root, or let this user run \
             stowctl with sudo without a password (a NOPASSWD rule for the stowctl binary); \
             nothing was changed"
                .into(),
        ),
    }
}
