//! `snapshotter-available`: the snapshotter `storage-driver` names for the containerd store is
//! one the engine's containerd offers (else the engine fails to start on it), and what stargz
//! does without stargz-ready images.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::daemon_json::KeyPath;
use crate::engine::drivers;
use crate::engine::store::ImageStore;
use crate::snapshotters::{self, Availability};

/// The check.
pub async fn run(ctx: &CheckContext) -> Finding {
    if ctx.target != ImageStore::Containerd {
        return Finding::new(
            Status::Skipped,
            "the classic store runs on graphdrivers, not containerd snapshotters",
        );
    }
    let Some(name) = configured(ctx) else {
        return Finding::new(
            Status::Ok,
            "no snapshotter is named: the containerd store runs on containerd's default (overlayfs)",
        );
    };
    if drivers::only_store(&name) == Some(ImageStore::Classic) {
        return Finding::new(
            Status::Skipped,
            format!("storage-driver `{name}` is a graphdriver (see storage-driver-conflict)"),
        );
    }
    let a = snapshotters::available(&ctx.engine).await;
    judge(&name, &a)
}

/// The snapshotter named by `--storage-driver` or daemon.json.
fn configured(ctx: &CheckContext) -> Option<String> {
    ctx.facts.args.storage_driver.clone().or_else(|| {
        ctx.facts
            .doc
            .get_str(&KeyPath::top("storage-driver"))
            .map(str::to_string)
    })
}

/// The verdict on snapshotter `name` given what containerd offers.
pub fn judge(name: &str, a: &Availability) -> Finding {
    let usable: Vec<&str> = a
        .snapshotters
        .iter()
        .filter(|s| s.usable)
        .map(|s| s.name.as_str())
        .collect();
    let base = Finding::new(Status::Ok, String::new())
        .with("snapshotter", name)
        .with("usable", json!(usable))
        .with("managed_containerd", a.managed);
    if a.error.is_some() && a.get(name).is_none() {
        return Finding {
            status: Status::Error,
            summary: format!(
                "storage-driver names the snapshotter `{name}`, but the engine's containerd did not answer to tell whether it offers it: {}",
                a.error.as_deref().unwrap_or("")
            ),
            ..base
        };
    }
    if let Some(why) = a.refusal(name) {
        let choose = format!(
            "stowctl store use containerd --snapshotter {}",
            usable.first().copied().unwrap_or("overlayfs")
        );
        let mut f = Finding {
            status: Status::Fail,
            summary: format!("{why}: the engine fails to start with it"),
            ..base
        }
        .fix(Fix::manual(
            "choose-usable-snapshotter",
            "Choose a snapshotter containerd offers (`stowctl store snapshotters` lists them)",
            &[choose.as_str()],
            Some("https://docs.docker.com/engine/storage/containerd/"),
        ));
        if name == snapshotters::stargz::NAME {
            f = f.fix(Fix::manual(
                "set-up-stargz",
                "Install Debian's stargz-snapshotter and declare it in the system containerd's config (engines on a system containerd only)",
                &[
                    "sudo apt-get install stargz-snapshotter",
                    "sudo stowctl store stargz-setup --yes",
                ],
                Some("https://github.com/containerd/stargz-snapshotter"),
            ));
        }
        return f;
    }
    if name == snapshotters::stargz::NAME {
        return Finding {
            summary: "stargz is usable: eStargz images are pulled lazily (their files fetched when read); any other image is pulled whole, as with overlayfs".into(),
            ..base
        };
    }
    Finding {
        summary: format!("the snapshotter `{name}` is one the engine's containerd offers"),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshotters::{Snapshotter, Source};

    fn avail(list: &[(&str, bool)]) -> Availability {
        Availability {
            socket: None,
            managed: true,
            config: None,
            snapshotters: list
                .iter()
                .map(|(n, u)| Snapshotter {
                    name: n.to_string(),
                    source: Source::Builtin,
                    usable: *u,
                    reason: "r".into(),
                })
                .collect(),
            error: None,
            note: Some(snapshotters::MANAGED_NO_PROXY.into()),
        }
    }

    #[test]
    fn an_unavailable_snapshotter_fails_with_the_fix_and_stargz_explains_lazy_pulls() {
        let a = avail(&[("overlayfs", true), ("native", true), ("zfs", false)]);
        assert_eq!(judge("native", &a).status, Status::Ok);
        let f = judge("zfs", &a);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.fixes[0].commands,
            ["stowctl store use containerd --snapshotter overlayfs"]
        );
        let f = judge("stargz", &a);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.fixes[1].id, "set-up-stargz");
        let a = avail(&[("overlayfs", true), ("stargz", true)]);
        let f = judge("stargz", &a);
        assert_eq!(f.status, Status::Ok);
        assert!(f.summary.contains("pulled whole"), "{}", f.summary);
    }
}
