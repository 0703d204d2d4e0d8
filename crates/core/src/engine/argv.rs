//! Reading a dockerd command line: which config file, data-root, exec-root, sockets and
//! store-related options it was started with.

use std::path::PathBuf;

/// Flags of dockerd that take a value (long and short spellings), so their values are not
/// mistaken for flags.
const VALUE_FLAGS: &[&str] = &[
    "--config-file",
    "--data-root",
    "-g",
    "--graph",
    "--exec-root",
    "-H",
    "--host",
    "-p",
    "--pidfile",
    "--containerd",
    "--containerd-namespace",
    "--containerd-plugins-namespace",
    "--feature",
    "-s",
    "--storage-driver",
    "--userns-remap",
    "--log-level",
    "-l",
    "--group",
    "-G",
    "--storage-opt",
    "--registry-mirror",
    "--insecure-registry",
    "--dns",
    "--bip",
    "--bridge",
    "-b",
    "--mtu",
    "--log-driver",
    "--log-opt",
    "--default-runtime",
    "--add-runtime",
    "--exec-opt",
    "--label",
    "--cgroup-parent",
    "--default-address-pool",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// The options of one dockerd command line that matter to Stowage; everything else is kept in
/// `flags` as `(name, value)` pairs in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonArgs {
    /// `--config-file`.
    pub config_file: Option<PathBuf>,
    /// `--data-root` (or the old `-g/--graph`).
    pub data_root: Option<PathBuf>,
    /// `--exec-root`.
    pub exec_root: Option<PathBuf>,
    /// Every `-H/--host`.
    pub hosts: Vec<String>,
    /// `-p/--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--containerd` (address of a containerd dockerd should use instead of its own).
    pub containerd: Option<String>,
    /// `--containerd-namespace`.
    pub containerd_namespace: Option<String>,
    /// `-s/--storage-driver`.
    pub storage_driver: Option<String>,
    /// `--userns-remap`.
    pub userns_remap: Option<String>,
    /// `--feature NAME[=BOOL]`, as (name, enabled).
    pub features: Vec<(String, bool)>,
    /// Every flag seen, long name without dashes (short names mapped to long), with its value.
    pub flags: Vec<(String, Option<String>)>,
}

impl DaemonArgs {
    /// Parses a dockerd argv (the first element is the program and is skipped).
    pub fn parse<S: AsRef<str>>(argv: &[S]) -> Self {
        let mut out = DaemonArgs::default();
        let mut i = 1;
        while i < argv.len() {
            let arg = argv[i].as_ref();
            i += 1;
            if !arg.starts_with('-') || arg == "-" || arg == "--" {
                continue;
            }
            let (name, mut value) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.to_string(), None),
            };
            if value.is_none() && i < argv.len() {
                let next = argv[i].as_ref();
                let takes_value = VALUE_FLAGS.contains(&name.as_str())
                    || (!next.starts_with('-') && !is_bool_literal(next));
                if takes_value {
                    value = Some(next.to_string());
                    i += 1;
                }
            }
            let long = long_name(&name);
            match long.as_str() {
                "config-file" => out.config_file = value.clone().map(PathBuf::from),
                "data-root" | "graph" => out.data_root = value.clone().map(PathBuf::from),
                "exec-root" => out.exec_root = value.clone().map(PathBuf::from),
                "host" => out.hosts.extend(value.clone()),
                "pidfile" => out.pidfile = value.clone().map(PathBuf::from),
                "containerd" => out.containerd = value.clone(),
                "containerd-namespace" => out.containerd_namespace = value.clone(),
                "storage-driver" => out.storage_driver = value.clone(),
                "userns-remap" => out.userns_remap = value.clone(),
                "feature" => {
                    if let Some(v) = &value {
                        let (n, on) = match v.split_once('=') {
                            Some((n, b)) => (n.to_string(), b.parse::<bool>().unwrap_or(true)),
                            None => (v.clone(), true),
                        };
                        out.features.push((n, on));
                    }
                }
                _ => {}
            }
            out.flags.push((
                if long == "graph" {
                    "data-root".into()
                } else {
                    long
                },
                value,
            ));
        }
        out
    }

    /// Whether the flag (long name, no dashes) was given.
    pub fn has_flag(&self, long: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == long)
    }
}

fn is_bool_literal(s: &str) -> bool {
    matches!(s, "true" | "false")
}

fn long_name(flag: &str) -> String {
    let bare = flag.trim_start_matches('-');
    match bare {
        "H" => "host",
        "g" => "graph",
        "p" => "pidfile",
        "s" => "storage-driver",
        "l" => "log-level",
        "G" => "group",
        "b" => "bridge",
        "D" => "debug",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_private_daemon_command_line() {
        let a = DaemonArgs::parse(&[
            "dockerd",
            "--config-file",
            "/t/daemon.json",
            "--data-root=/t/data",
            "--exec-root",
            "/t/exec",
            "--pidfile",
            "/t/d.pid",
            "-H",
            "unix:///t/d.sock",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--debug",
            "--feature",
            "containerd-snapshotter=false",
            "-s",
            "overlay2",
        ]);
        assert_eq!(
            a.config_file.as_deref(),
            Some(std::path::Path::new("/t/daemon.json"))
        );
        assert_eq!(
            a.data_root.as_deref(),
            Some(std::path::Path::new("/t/data"))
        );
        assert_eq!(
            a.exec_root.as_deref(),
            Some(std::path::Path::new("/t/exec"))
        );
        assert_eq!(a.hosts, vec!["unix:///t/d.sock".to_string()]);
        assert_eq!(
            a.features,
            vec![("containerd-snapshotter".to_string(), false)]
        );
        assert_eq!(a.storage_driver.as_deref(), Some("overlay2"));
        assert!(a.has_flag("bridge") && a.has_flag("iptables") && a.has_flag("debug"));
    }

    #[test]
    fn boolean_flags_do_not_swallow_the_next_flag() {
        let a = DaemonArgs::parse(&["dockerd", "--debug", "-H", "fd://", "--live-restore"]);
        assert_eq!(a.hosts, vec!["fd://".to_string()]);
        assert!(a.has_flag("debug") && a.has_flag("live-restore"));
    }
}
