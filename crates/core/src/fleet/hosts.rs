//! Which hosts a fleet command takes: docker contexts (named, or every ssh one) or a hosts file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::remote::{contexts, SshTarget};

/// One host of a fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// How the user names it (the context, or the hosts file's name).
    pub name: String,
    /// Where it is.
    pub target: SshTarget,
}

/// The contexts named (`A,B`), each of which must be an ssh one.
pub fn from_contexts(dir: &Path, names: &[String]) -> Result<Vec<Host>> {
    names
        .iter()
        .map(|n| {
            let c = contexts::find(dir, n).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "no docker context named `{n}` (see `docker context ls` or `stowctl engines`)"
                ))
            })?;
            if c.transport() != "ssh" {
                return Err(Error::InvalidRequest(format!(
                    "docker context `{n}` is {} (not ssh://): a fleet reaches its hosts over ssh",
                    c.host
                )));
            }
            Ok(Host {
                name: c.name,
                target: SshTarget::parse(&c.host)?,
            })
        })
        .collect()
}

/// Every docker context whose engine is reached over ssh.
pub fn all_ssh_contexts(dir: &Path) -> Result<Vec<Host>> {
    let hosts: Vec<Host> = contexts::list(dir)
        .into_iter()
        .filter(|c| c.transport() == "ssh")
        .map(|c| {
            Ok(Host {
                target: SshTarget::parse(&c.host)?,
                name: c.name,
            })
        })
        .collect::<Result<_>>()?;
    if hosts.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "no docker context in {} reaches an engine over ssh (`docker context create NAME --docker host=ssh://USER@HOST`)",
            dir.display()
        )));
    }
    Ok(hosts)
}

/// A hosts file: one host a line, `[NAME] ssh://[user@]host[:port]` or a bare `[user@]host`
/// (an ssh config alias works); `#` starts a comment. Errors name the file and line.
pub fn from_file(path: &Path) -> Result<Vec<Host>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    parse_file(path, &text)
}

fn parse_file(path: &Path, text: &str) -> Result<Vec<Host>> {
    let mut hosts: Vec<Host> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |message: String| Error::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            column: 1,
            message,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, address) = match words.as_slice() {
            [address] => (None, *address),
            [name, address] => (Some(*name), *address),
            _ => {
                return Err(at(format!(
                    "`{line}`: write one host a line, `[NAME] ssh://[user@]host[:port]`"
                )))
            }
        };
        let url = if SshTarget::is_ssh(address) {
            address.to_string()
        } else {
            format!("ssh://{address}")
        };
        let target = SshTarget::parse(&url).map_err(|e| at(e.to_string()))?;
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| target.host.clone());
        if hosts.iter().any(|h| h.name == name) {
            return Err(at(format!("`{name}` is listed twice")));
        }
        hosts.push(Host { name, target });
    }
    if hosts.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "no host in the file".into(),
        });
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_file_takes_names_addresses_and_comments() {
        let hosts = parse_file(
            Path::new("hosts"),
            "# web tier\nweb1 ssh://ops@10.0.0.1:2222\nweb2   # alias from ~/.ssh/config\nroot@db1\n",
        )
        .unwrap();
        let names: Vec<_> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["web1", "web2", "db1"]);
        assert_eq!(hosts[0].target.port, Some(2222));
        assert_eq!(hosts[2].target.user.as_deref(), Some("root"));
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let e = parse_file(Path::new("/tmp/hosts"), "web1\nweb1 ssh://a b\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/tmp/hosts:2:1:"), "{e}");
        let e = parse_file(Path::new("h"), "web1\nweb1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("h:2:1") && e.contains("twice"), "{e}");
        let e = parse_file(Path::new("h"), "ssh://web1:x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("h:1:1") && e.contains("port"), "{e}");
        let e = parse_file(Path::new("h"), "# nothing\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no host"), "{e}");
    }
}
