//! What a container is, from `<data-root>/containers/<id>/{config.v2.json,hostconfig.json}`
//! (root only): its state, published ports and volumes. The engine keeps them there for the
//! containers of both stores, so the hidden store's containers are read the same way.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// State, ports and volumes of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerFacts {
    /// `running`, `exited` or `created`.
    pub state: String,
    /// Published ports, `host_ip:host_port->port/proto` (host ip left out when any).
    pub ports: Vec<String>,
    /// Mounts, `name-or-source:destination`.
    pub volumes: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ConfigV2 {
    #[serde(rename = "State", default)]
    state: State,
    #[serde(rename = "MountPoints", default)]
    mount_points: BTreeMap<String, MountPoint>,
}

#[derive(Deserialize, Default)]
struct State {
    #[serde(rename = "Running", default)]
    running: bool,
    #[serde(rename = "StartedAt", default)]
    started_at: String,
}

#[derive(Deserialize, Default)]
struct MountPoint {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Source", default)]
    source: String,
    #[serde(rename = "Destination", default)]
    destination: String,
}

#[derive(Deserialize, Default)]
struct HostConfig {
    #[serde(rename = "PortBindings", default)]
    port_bindings: Option<BTreeMap<String, Option<Vec<Binding>>>>,
}

#[derive(Deserialize, Default)]
struct Binding {
    #[serde(rename = "HostIp", default)]
    host_ip: String,
    #[serde(rename = "HostPort", default)]
    host_port: String,
}

/// Reads the facts of container `id` under `data_root`; `None` when its files cannot be read.
pub fn read(data_root: &Path, id: &str) -> Option<ContainerFacts> {
    let dir = data_root.join("containers").join(id);
    let config = std::fs::read(dir.join("config.v2.json")).ok()?;
    let host = std::fs::read(dir.join("hostconfig.json")).unwrap_or_default();
    Some(parse(&config, &host))
}

/// The facts from the two files' bytes.
pub fn parse(config_v2: &[u8], hostconfig: &[u8]) -> ContainerFacts {
    let c: ConfigV2 = serde_json::from_slice(config_v2).unwrap_or_default();
    let h: HostConfig = serde_json::from_slice(hostconfig).unwrap_or_default();
    let state = if c.state.running {
        "running"
    } else if c.state.started_at.is_empty() || c.state.started_at.starts_with("0001-") {
        "created"
    } else {
        "exited"
    };
    let mut ports: Vec<String> = h
        .port_bindings
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(port, bindings)| {
            bindings
                .unwrap_or_default()
                .into_iter()
                .map(move |b| match b.host_ip.as_str() {
                    "" | "0.0.0.0" => format!("{}->{port}", b.host_port),
                    ip => format!("{ip}:{}->{port}", b.host_port),
                })
        })
        .collect();
    ports.sort();
    let volumes = c
        .mount_points
        .into_values()
        .map(|m| {
            let from = if m.name.is_empty() { m.source } else { m.name };
            format!("{from}:{}", m.destination)
        })
        .collect();
    ContainerFacts {
        state: state.into(),
        ports,
        volumes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_ports_and_volumes_are_read() {
        let config = br#"{"State":{"Running":false,"StartedAt":"2026-11-30T10:00:00Z"},
            "MountPoints":{"/data":{"Name":"pgdata","Source":"/var/lib/docker/volumes/pgdata/_data","Destination":"/data","Type":"volume"},
                           "/etc/x":{"Name":"","Source":"/srv/x","Destination":"/etc/x","Type":"bind"}}}"#;
        let host = br#"{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}]}}"#;
        let f = parse(config, host);
        assert_eq!(f.state, "exited");
        assert_eq!(f.ports, ["127.0.0.1:5353->53/udp", "8080->80/tcp"]);
        assert_eq!(
            f.volumes,
            ["pgdata:/data", "/srv/x:/etc/x"],
            "by destination"
        );
        assert_eq!(
            parse(br#"{"State":{"Running":true}}"#, b"").state,
            "running"
        );
        assert_eq!(
            parse(br#"{"State":{"StartedAt":"0001-01-01T00:00:00Z"}}"#, b"{}").state,
            "created"
        );
    }
}
