//! `ssh://[user@]host[:port]`: a host as the docker CLI names it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A host reached with OpenSSH.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SshTarget {
    /// The login, when given (else ssh's own choice: the config's `User`, or the local name).
    pub user: Option<String>,
    /// The host name or ssh config alias.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

impl SshTarget {
    /// Reads `ssh://[user@]host[:port]` (a path after the host is refused: Stowage runs its
    /// own `stowctl` there, not a socket path).
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::InvalidRequest(format!(
                "`{url}` is not an ssh address ({why}): write ssh://[user@]host[:port]"
            ))
        };
        let rest = url
            .strip_prefix("ssh://")
            .ok_or_else(|| bad("it does not start with ssh://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            return Err(bad("a path or query after the host is not taken"));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(bad("the user before @ is empty")),
            None => (None, rest),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            // [v6]:port
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad("no closing ]"))?;
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(
                        p.parse::<u16>()
                            .map_err(|_| bad("the port is not a number"))?,
                    ),
                    None if after.is_empty() => None,
                    None => return Err(bad("text after ]")),
                };
                (h.to_string(), port)
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    Some(
                        p.parse::<u16>()
                            .map_err(|_| bad("the port is not a number"))?,
                    ),
                ),
                None => (hostport.to_string(), None),
            },
        };
        if host.is_empty() || host.starts_with('-') {
            return Err(bad("no host name"));
        }
        if user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(bad("a user name cannot start with -"));
        }
        Ok(SshTarget { user, host, port })
    }

    /// Whether `address` is an ssh address.
    pub fn is_ssh(address: &str) -> bool {
        address.starts_with("ssh://")
    }

    /// `[user@]host` as ssh takes it.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// The address, as written.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!(
                "ssh://{}:{p}",
                self.destination().replace(&self.host, &host)
            ),
            None => format!("ssh://{}", self.destination().replace(&self.host, &host)),
        }
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_as_the_docker_cli_writes_them() {
        let t = SshTarget::parse("ssh://ops@web1:2222").unwrap();
        assert_eq!(
            t,
            SshTarget {
                user: Some("ops".into()),
                host: "web1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(t.destination(), "ops@web1");
        assert_eq!(t.url(), "ssh://ops@web1:2222");
        let t = SshTarget::parse("ssh://web2").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        let t = SshTarget::parse("ssh://root@[::1]:22").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.url(), "ssh://root@[::1]:22");
    }

    #[test]
    fn what_is_not_a_host_is_refused_with_the_form_to_write() {
        for bad in [
            "tcp://web1",
            "ssh://",
            "ssh://web1:port",
            "ssh://web1/var/run/docker.sock",
            "ssh://-oProxyCommand=x",
            "ssh://@web1",
        ] {
            let e = SshTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains("ssh://[user@]host[:port]"), "{bad}: {e}");
        }
    }
}
