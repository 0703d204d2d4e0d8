//! Gathering what a reclaim plan needs (both stores, the store's files or containerd objects,
//! its size on disk, the engine's version and store choice) and planning it with
//! [`super::plan::plan_from`].

use super::classic_files;
use super::containerd_objects;
use super::plan::{plan_from, Deletions, Pin, ReclaimInputs, ReclaimPlan, ReclaimRequest};
use crate::daemon_json::{apply_edits, DaemonJson, Edit};
use crate::engine::store::{
    configured_store, parse_engine_version, ConfiguredStore, ImageStore, SNAPSHOTTER_FEATURE,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::{list, Selection};

/// Checks a reclaim of `req.store` on `engine`. Nothing is written.
#[tracing::instrument(level = "info", skip_all, fields(store = %req.store))]
pub async fn plan(engine: &Engine, req: &ReclaimRequest) -> Result<ReclaimPlan> {
    let listing = list(engine, Selection::All).await;
    let active = listing.active.ok_or_else(|| Error::Engine {
        host: engine.host.clone(),
        message: "the engine does not answer; a reclaim needs it running (it tells which store is in use)".into(),
    })?;
    // The active store is refused by the plan: nothing of it is read.
    let deletions = match req.store {
        _ if req.store == active => Deletions::Classic(Default::default()),
        ImageStore::Classic => {
            let root = engine.data_root.clone();
            Deletions::Classic(
                tokio::task::spawn_blocking(move || classic_files::inventory(&root))
                    .await
                    .map_err(|e| Error::internal("reading the classic store's files", e))??,
            )
        }
        ImageStore::Containerd => {
            let ids: Vec<String> = listing
                .containers
                .iter()
                .filter(|(s, _)| *s == ImageStore::Containerd)
                .map(|(_, c)| c.id.clone())
                .collect();
            let socket = engine.containerd_address()?;
            Deletions::Containerd(
                containerd_objects::inventory(&socket, &engine.containerd_namespace, &ids).await?,
            )
        }
    };
    let (bytes, pin, needs_root) = if req.store == active {
        (None, None, false)
    } else {
        (
            store_bytes(engine, req.store).await,
            pin(engine, active).await?,
            needs_root(engine, &deletions),
        )
    };
    plan_from(
        req,
        ReclaimInputs {
            report: &listing.report,
            containers: &listing.containers,
            active,
            data_root: &engine.data_root,
            bytes,
            deletions,
            pin,
            needs_root,
        },
    )
}

/// Whether this user may delete what the plan deletes: the containers' folder and the classic
/// store's folders, or containerd's socket.
fn needs_root(engine: &Engine, deletions: &Deletions) -> bool {
    use nix::unistd::{access, AccessFlags};
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    let writable = |p: &std::path::Path| access(p, AccessFlags::W_OK).is_ok();
    let containers = engine.data_root.join("containers");
    let own = match deletions {
        Deletions::Classic(f) => f
            .image_dir
            .iter()
            .chain(&f.layer_dirs)
            .all(|p| p.parent().is_some_and(writable)),
        Deletions::Containerd(o) => writable(&o.socket),
    };
    !(own && (!containers.exists() || writable(&containers)))
}

/// Bytes the store's folders take on disk now, as `stowctl du` measures them (with a system
/// containerd, its root also holds other namespaces' data).
pub(crate) async fn store_bytes(engine: &Engine, store: ImageStore) -> Option<u64> {
    let dirs = crate::stores::location::store_dirs(engine, store);
    tokio::task::spawn_blocking(move || crate::stores::usage::dir_usage(&dirs))
        .await
        .ok()
        .flatten()
}

/// The pin an engine of 29.0+ needs when daemon.json leaves the store to the engine's default
/// (which then depends on what is on disk): the store it runs now, written explicitly.
async fn pin(engine: &Engine, active: ImageStore) -> Result<Option<Pin>> {
    let version = engine_version(engine).await;
    let doc = crate::engine::status::read_config(engine).await?;
    Ok(pin_for(
        version.as_ref(),
        &doc,
        &engine.daemon_args().features,
        active,
    ))
}

/// [`pin`]'s rule, pure.
pub fn pin_for(
    version: Option<&semver::Version>,
    doc: &DaemonJson,
    flag_features: &[(String, bool)],
    active: ImageStore,
) -> Option<Pin> {
    // An unknown version is treated as one whose default may move: a pin is harmless.
    if version.is_some_and(|v| v.major < 29) {
        return None;
    }
    if configured_store(doc, flag_features) != ConfiguredStore::Default {
        return None;
    }
    let on = active == ImageStore::Containerd;
    let edited = apply_edits(doc, &[Edit::set_feature(SNAPSHOTTER_FEATURE, on)]).ok()?;
    Some(Pin {
        containerd_snapshotter: on,
        diff: edited.diff,
    })
}

async fn engine_version(engine: &Engine) -> Option<semver::Version> {
    use crate::engine::client::{api_timeout, connect, within};
    let d = connect(&engine.host, api_timeout().as_secs()).await.ok()?;
    let v = within(&engine.host, "/version", async {
        d.version()
            .await
            .map_err(|e| crate::engine::client::engine_error(&engine.host, e))
    })
    .await
    .ok()?;
    parse_engine_version(v.version.as_deref()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_engine_of_29_or_later_that_leaves_the_choice_to_its_default_is_pinned() {
        let v = |s: &str| parse_engine_version(s).unwrap();
        let empty = DaemonJson::parse(std::path::Path::new("daemon.json"), "{}").unwrap();
        assert_eq!(
            pin_for(Some(&v("28.5.2")), &empty, &[], ImageStore::Classic),
            None
        );
        let p = pin_for(Some(&v("29.0.1")), &empty, &[], ImageStore::Containerd).unwrap();
        assert!(p.containerd_snapshotter);
        assert!(
            p.diff.contains("\"containerd-snapshotter\": true"),
            "{}",
            p.diff
        );
        let explicit = DaemonJson::parse(
            std::path::Path::new("daemon.json"),
            r#"{"features":{"containerd-snapshotter":false}}"#,
        )
        .unwrap();
        assert_eq!(
            pin_for(Some(&v("29.0.1")), &explicit, &[], ImageStore::Classic),
            None
        );
        let flag = [(SNAPSHOTTER_FEATURE.to_string(), true)];
        assert_eq!(
            pin_for(Some(&v("29.0.1")), &empty, &flag, ImageStore::Containerd),
            None
        );
        assert!(pin_for(None, &empty, &[], ImageStore::Classic).is_some());
    }
}
