//! Findings about a planned daemon.json: what would make the daemon fail, or surprise the user.

use crate::daemon_json::{DaemonJson, KeyPath};
use crate::engine::argv::DaemonArgs;
use crate::engine::drivers;
use crate::engine::store::ImageStore;
use crate::finding::{PlanFinding, Severity};

/// dockerd flags (long names) and the daemon.json keys they correspond to, where they differ.
const FLAG_TO_KEY: &[(&str, &str)] = &[
    ("host", "hosts"),
    ("registry-mirror", "registry-mirrors"),
    ("insecure-registry", "insecure-registries"),
    ("label", "labels"),
    ("storage-opt", "storage-opts"),
    ("log-opt", "log-opts"),
    ("exec-opt", "exec-opts"),
    ("default-address-pool", "default-address-pools"),
    ("add-runtime", "runtimes"),
    ("feature", "features"),
    ("dns-opt", "dns-opts"),
    ("authorization-plugin", "authorization-plugins"),
    ("default-ulimit", "default-ulimits"),
    ("node-generic-resource", "node-generic-resources"),
];

/// Flags that have no daemon.json counterpart.
const FLAG_ONLY: &[&str] = &["config-file", "validate", "version", "help", "debug-addr"];

/// The daemon.json key of a dockerd flag.
pub fn key_of_flag(flag: &str) -> Option<&str> {
    if FLAG_ONLY.contains(&flag) {
        return None;
    }
    Some(
        FLAG_TO_KEY
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, k)| *k)
            .unwrap_or(flag),
    )
}

/// Options set both as a dockerd flag and in daemon.json: dockerd refuses to start.
pub fn flag_and_file_conflicts(doc: &DaemonJson, args: &DaemonArgs) -> Vec<PlanFinding> {
    let mut seen = Vec::new();
    for (flag, _) in &args.flags {
        if let Some(key) = key_of_flag(flag) {
            if doc.get(&KeyPath::top(key)).is_some() && !seen.contains(&key) {
                seen.push(key);
            }
        }
    }
    seen.into_iter()
        .map(|key| {
            PlanFinding::new(
                "flag-and-file-conflict",
                Severity::Error,
                format!("`{key}` is set both on dockerd's command line and in daemon.json; dockerd refuses to start like that: remove one of them"),
            )
        })
        .collect()
}

/// Everything worth saying about running `doc` with `args` on `target` store.
pub fn lint(
    doc: &DaemonJson,
    args: &DaemonArgs,
    target: Option<ImageStore>,
    version: Option<&semver::Version>,
) -> Vec<PlanFinding> {
    let mut out = flag_and_file_conflicts(doc, args);
    if target == Some(ImageStore::Containerd) {
        if let Some(driver) = args
            .storage_driver
            .as_deref()
            .filter(|d| drivers::conflicts_with(d, ImageStore::Containerd))
        {
            out.push(PlanFinding::new(
                "storage-driver-conflict",
                Severity::Error,
                format!("dockerd is started with `--storage-driver {driver}`, a graphdriver the containerd image store cannot use (the daemon would fail or stay classic); remove the flag from the service definition first"),
            ));
        }
        if let Some(driver) = doc
            .get_str(&KeyPath::top("storage-driver"))
            .filter(|d| drivers::conflicts_with(d, ImageStore::Containerd))
        {
            out.push(PlanFinding::new(
                "storage-driver-conflict",
                Severity::Error,
                format!("daemon.json sets `storage-driver: {driver}`, which the containerd image store cannot use"),
            ));
        }
        let userns =
            doc.get(&KeyPath::top("userns-remap")).is_some() || args.userns_remap.is_some();
        if userns && !drivers::supports_userns_remap(ImageStore::Containerd) {
            out.push(PlanFinding::new(
                "userns-remap",
                Severity::Error,
                "`userns-remap` is set: the containerd image store does not support user namespace remapping",
            ));
        }
        let mirrors = doc.get(&KeyPath::top("registry-mirrors")).is_some()
            || args.has_flag("registry-mirror");
        let insecure = doc.get(&KeyPath::top("insecure-registries")).is_some()
            || args.has_flag("insecure-registry");
        if mirrors || insecure {
            let which = match (mirrors, insecure) {
                (true, true) => "`registry-mirrors` and `insecure-registries`",
                (true, false) => "`registry-mirrors`",
                _ => "`insecure-registries`",
            };
            let detail = match version {
                Some(v) if v.major >= 28 => "Engine 28+ honours them with the containerd store, and also reads containerd-style `certs.d/<host>/hosts.toml` (in /etc/docker/certs.d, not /etc/containerd/certs.d) for per-registry settings",
                Some(v) if v.major >= 24 => "this engine honours them with the containerd store (mirrors apply to Docker Hub only); check pulls after switching",
                _ => "older containerd-store engines (Docker Desktop 4.12) ignored them; check pulls after switching",
            };
            out.push(PlanFinding::new(
                "registry-mirrors",
                Severity::Info,
                format!("{which} set: {detail}"),
            ));
        }
    }
    if target == Some(ImageStore::Classic) {
        if let Some(driver) = doc
            .get_str(&KeyPath::top("storage-driver"))
            .filter(|d| drivers::conflicts_with(d, ImageStore::Classic))
        {
            out.push(PlanFinding::new(
                "storage-driver-conflict",
                Severity::Error,
                format!("daemon.json sets `storage-driver: {driver}`, a snapshotter the classic store cannot use"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn doc(t: &str) -> DaemonJson {
        DaemonJson::parse(Path::new("d.json"), t).unwrap()
    }

    #[test]
    fn same_option_as_flag_and_in_file_is_an_error() {
        let args = DaemonArgs::parse(&[
            "dockerd",
            "--debug",
            "-H",
            "unix:///x.sock",
            "--config-file",
            "/d.json",
        ]);
        let f = flag_and_file_conflicts(
            &doc(r#"{"debug": true, "hosts": ["unix:///y.sock"]}"#),
            &args,
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.starts_with("`debug` is set both"));
        assert!(f[1].message.starts_with("`hosts` is set both"));
        assert!(flag_and_file_conflicts(&doc(r#"{"log-level": "warn"}"#), &args).is_empty());
    }

    #[test]
    fn graphdriver_flag_blocks_the_containerd_store() {
        let args = DaemonArgs::parse(&["dockerd", "-s", "overlay2"]);
        let f = lint(&doc("{}"), &args, Some(ImageStore::Containerd), None);
        assert_eq!(f[0].id, "storage-driver-conflict");
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[test]
    fn mirrors_get_a_version_aware_note() {
        let v = semver::Version::new(28, 1, 0);
        let f = lint(
            &doc(r#"{"registry-mirrors": ["https://m"]}"#),
            &DaemonArgs::default(),
            Some(ImageStore::Containerd),
            Some(&v),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("hosts.toml"));
    }
}
