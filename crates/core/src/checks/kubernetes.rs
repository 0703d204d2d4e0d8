//! `kubernetes-conflict`: Kubernetes that depends on this engine's images: kind / minikube / k3d
//! node containers (a switch hides them, so the cluster stops), and Docker Desktop's Kubernetes
//! setting (incompatible with the containerd store in Desktop 4.12, fixed in 4.13).

use std::collections::BTreeMap;

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

/// Labels that mark a Kubernetes node container, and the tool that sets them.
pub const NODE_LABELS: &[(&str, &str)] = &[
    ("io.x-k8s.kind.cluster", "kind"),
    ("name.minikube.sigs.k8s.io", "minikube"),
    ("k3d.cluster", "k3d"),
];

/// The tool and cluster name of a node container, from its labels.
pub fn node_of(labels: &BTreeMap<String, String>) -> Option<(&'static str, String)> {
    NODE_LABELS
        .iter()
        .find_map(|(label, tool)| labels.get(*label).map(|v| (*tool, v.clone())))
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let Some(docker) = &ctx.docker else {
        return Finding::new(Status::Error, "the engine did not answer");
    };
    let opts = bollard::query_parameters::ListContainersOptions {
        all: false,
        ..Default::default()
    };
    let running = match docker.list_containers(Some(opts)).await {
        Ok(list) => list,
        Err(e) => return Finding::new(Status::Error, format!("listing containers failed: {e}")),
    };
    let mut nodes: Vec<serde_json::Value> = Vec::new();
    for c in running {
        let labels: BTreeMap<String, String> =
            c.labels.clone().unwrap_or_default().into_iter().collect();
        if let Some((tool, cluster)) = node_of(&labels) {
            let name = c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            nodes.push(json!({ "tool": tool, "cluster": cluster, "container": name }));
        }
    }
    let desktop_k8s = desktop_kubernetes_enabled();
    let mut f = Finding::new(Status::Ok, String::new())
        .with("node_containers", json!(nodes))
        .with("docker_desktop_kubernetes", json!(desktop_k8s));
    let clusters: Vec<String> = nodes
        .iter()
        .map(|n| {
            format!(
                "{} cluster `{}` ({})",
                n["tool"].as_str().unwrap_or(""),
                n["cluster"].as_str().unwrap_or(""),
                n["container"].as_str().unwrap_or("")
            )
        })
        .collect();
    if !clusters.is_empty() {
        if ctx.switching {
            f.status = Status::Fail;
            f.summary = format!(
                "switching to the {} store hides the running node containers of {}: the cluster stops until you switch back",
                ctx.target,
                clusters.join(", ")
            );
            return f.fix(Fix::manual(
                "stop-clusters",
                "Stop or delete the clusters first (their node containers live in the current store), then switch",
                &["kind delete cluster --name <name>", "minikube stop", "k3d cluster stop <name>"],
                None,
            ));
        }
        f.status = Status::Warn;
        f.summary = format!(
            "Kubernetes runs on this engine: {}; switching stores would hide its node containers",
            clusters.join(", ")
        );
        return f;
    }
    if desktop_k8s == Some(true) && ctx.target == ImageStore::Containerd {
        f.status = Status::Warn;
        f.summary = "Docker Desktop's Kubernetes is enabled: with Desktop 4.12 it did not work with the containerd store (fixed in 4.13); check your Desktop version".into();
        return f;
    }
    f.summary = "no Kubernetes node containers run on this engine".into();
    f
}

/// Docker Desktop's `kubernetesEnabled` setting, when Desktop's settings file exists.
fn desktop_kubernetes_enabled() -> Option<bool> {
    let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
    for f in [
        ".docker/desktop/settings-store.json",
        ".docker/desktop/settings.json",
    ] {
        if let Ok(text) = std::fs::read_to_string(home.join(f)) {
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            return v
                .get("KubernetesEnabled")
                .or_else(|| v.get("kubernetesEnabled"))
                .and_then(|x| x.as_bool());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_labels_name_tool_and_cluster() {
        let l = BTreeMap::from([("io.x-k8s.kind.cluster".to_string(), "demo".to_string())]);
        assert_eq!(node_of(&l), Some(("kind", "demo".to_string())));
        assert_eq!(node_of(&BTreeMap::new()), None);
    }
}
