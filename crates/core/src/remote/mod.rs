//! Engines on other hosts, reached with OpenSSH: a `ssh://` address or docker context is a host
//! whose own `stowctl` does the work (`ssh HOST stowctl --wire …`), its lines read with the
//! core's wire protocol ([`crate::wire`]). No agent of Stowage's own: the user's ssh config,
//! agent and `known_hosts` decide who may connect; host keys are always checked.

pub mod contexts;
pub mod dial;
pub mod documents;
pub mod pages;
pub mod probe;
pub mod ssh;
pub mod target;

pub use contexts::DockerContext;
pub use ssh::{RemoteRun, Ssh};
pub use target::SshTarget;

/// The ssh host a command acts on, when it acts on one: `-H ssh://…`; else `--context NAME`
/// when that context is an ssh one; else (no `--engine`) `DOCKER_HOST=ssh://…`; else the
/// docker CLI's current context when it is an ssh one. `None`: an engine on this machine (or
/// a tcp one).
pub fn chosen_ssh_target(
    host: Option<&str>,
    context: Option<&str>,
    engine: Option<&str>,
) -> crate::Result<Option<SshTarget>> {
    let dir = contexts::config_dir();
    if let Some(h) = host {
        return if SshTarget::is_ssh(h) {
            SshTarget::parse(h).map(Some)
        } else {
            Ok(None)
        };
    }
    if let Some(name) = context {
        let c = contexts::find(&dir, name).ok_or_else(|| {
            crate::Error::EngineNotFound(format!(
                "no docker context named `{name}` (see `docker context ls`)"
            ))
        })?;
        return if c.transport() == "ssh" {
            SshTarget::parse(&c.host).map(Some)
        } else {
            Ok(None)
        };
    }
    if engine.is_some() {
        return Ok(None);
    }
    if let Some(h) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return if SshTarget::is_ssh(&h) {
            SshTarget::parse(&h).map(Some)
        } else {
            Ok(None)
        };
    }
    let current = contexts::current_name(&dir);
    if current != "default" {
        if let Some(c) = contexts::find(&dir, &current) {
            if c.transport() == "ssh" {
                return SshTarget::parse(&c.host).map(Some);
            }
        }
    }
    Ok(None)
}

/// The arguments to give the host's stowctl: this command line without what chose the host
/// (`-H`, `--context`) and without `--json`/`--wire` (the caller adds its own).
pub fn forwarded_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-H" | "--host" | "--context" => {
                it.next();
            }
            "--json" | "--wire" => {}
            s if s.starts_with("--host=") || s.starts_with("--context=") => {}
            s if s.starts_with("-H") && s.len() > 2 => {}
            _ => out.push(a.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_chosen_the_docker_cli_way_and_its_flags_are_not_forwarded() {
        assert_eq!(
            chosen_ssh_target(Some("ssh://ops@web1"), None, None)
                .unwrap()
                .unwrap()
                .host,
            "web1"
        );
        assert_eq!(
            chosen_ssh_target(Some("unix:///run/docker.sock"), None, None).unwrap(),
            None
        );
        let args: Vec<String> = [
            "-H",
            "ssh://web1",
            "--json",
            "store",
            "use",
            "containerd",
            "--context=x",
            "-Hssh://y",
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            forwarded_args(&args),
            ["store", "use", "containerd", "--yes"]
        );
    }
}
