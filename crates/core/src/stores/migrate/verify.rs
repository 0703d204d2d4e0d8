//! Verifying a migration: every reference resolves in the target store to a config the source
//! had.

use serde::Serialize;

use super::plan::MigrationPlan;
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::Result;
use crate::stores::reference::qualified;

/// One reference after the migration.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct VerifiedReference {
    /// The reference.
    pub reference: String,
    /// The config digest(s) in the source.
    pub source_configs: Vec<String>,
    /// The config digest(s) in the target.
    pub target_configs: Vec<String>,
    /// Whether they agree.
    pub ok: bool,
}

/// Reads each planned reference's config digests in the target store and compares them.
pub async fn verify(engine: &Engine, plan: &MigrationPlan) -> Result<Vec<VerifiedReference>> {
    let docker = crate::engine::client::connect(&engine.host, 60).await?;
    let mut out = Vec::new();
    for (r, source_configs) in &plan.source_configs {
        let target_configs = match plan.target {
            ImageStore::Classic => match docker.inspect_image(r).await {
                Ok(i) => i.id.into_iter().collect(),
                Err(_) => vec![],
            },
            ImageStore::Containerd => crate::stores::containerd::config_digests(
                &engine.containerd_address()?,
                &engine.containerd_namespace,
                &qualified(r),
            )
            .await?
            .map(|(c, _)| c)
            .unwrap_or_default(),
        };
        out.push(VerifiedReference {
            reference: r.clone(),
            ok: configs_agree(plan.target, source_configs, &target_configs),
            source_configs: source_configs.clone(),
            target_configs,
        });
    }
    Ok(out)
}

/// Whether the copy in `target` matches the source: the classic store keeps one platform, which
/// must be one of the source's; the containerd store keeps every platform the source had.
pub fn configs_agree(target: ImageStore, source: &[String], copied: &[String]) -> bool {
    match target {
        ImageStore::Classic => copied.len() == 1 && source.contains(&copied[0]),
        ImageStore::Containerd => !source.is_empty() && source.iter().all(|c| copied.contains(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_classic_copy_is_one_of_the_source_platforms() {
        let source = v(&["c-amd64", "c-arm64"]);
        assert!(configs_agree(
            ImageStore::Classic,
            &source,
            &v(&["c-arm64"])
        ));
        assert!(!configs_agree(ImageStore::Classic, &source, &v(&["other"])));
        assert!(!configs_agree(ImageStore::Classic, &source, &v(&[])));
        assert!(!configs_agree(ImageStore::Classic, &source, &source));
    }

    #[test]
    fn the_containerd_copy_has_every_source_platform() {
        let source = v(&["c-amd64", "c-arm64"]);
        assert!(configs_agree(ImageStore::Containerd, &source, &source));
        assert!(configs_agree(
            ImageStore::Containerd,
            &v(&["c"]),
            &v(&["c", "extra"])
        ));
        assert!(!configs_agree(
            ImageStore::Containerd,
            &source,
            &v(&["c-amd64"])
        ));
        // Nothing known of the source verifies nothing.
        assert!(!configs_agree(ImageStore::Containerd, &[], &v(&["c"])));
    }
}
