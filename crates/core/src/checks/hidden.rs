//! `hidden-images` and `disk-space`: what sits in the store that is (or will be) hidden,
//! counted from the store lists, and whether a migration of it would fit.

use serde_json::json;

use super::{CheckContext, Finding, Fix, FixAction, Status};

use crate::text::{count, human_bytes as human};

/// `hidden-images`: counts of the store that is hidden now, or would be after the switch.
pub async fn hidden_images(ctx: &CheckContext) -> Finding {
    let listing = ctx.listing().await;
    let hidden_store = ctx.target.other();
    let Some(s) = listing
        .report
        .stores
        .iter()
        .find(|s| s.store == hidden_store)
    else {
        return Finding::new(Status::Error, "the store lists could not be read");
    };
    let f = Finding::new(Status::Ok, String::new())
        .with("store", hidden_store.as_str())
        .with("images", s.images)
        .with("containers", s.containers)
        .with("bytes", s.bytes)
        .with("readable", s.readable);
    if !s.readable {
        return Finding {
            status: Status::Error,
            summary: format!(
                "the {hidden_store} store could not be read: {}",
                s.error.clone().unwrap_or_default()
            ),
            ..f
        };
    }
    let when = if ctx.switching {
        "would be hidden after switching"
    } else {
        "are hidden while the other store is active"
    };
    if s.images == 0 && s.containers == 0 {
        let nothing = if ctx.switching {
            "nothing would be hidden by the switch"
        } else {
            "nothing is hidden"
        };
        return Finding {
            summary: format!(
                "the {hidden_store} store holds no images or containers, so {nothing}"
            ),
            ..f
        };
    }
    let missing = listing.report.missing_from(hidden_store, ctx.target);
    let examples: Vec<&str> = missing.iter().copied().take(5).collect();
    let kept = format!(
        "{} ({}) and {} in the {hidden_store} store {when}. They are kept, not lost: switch back to see them",
        count(s.images, "image"),
        human(s.bytes),
        count(s.containers, "container")
    );
    let finding = Finding {
        status: Status::Warn,
        summary: if missing.is_empty() {
            format!(
                "{kept}; every tagged image of them is in the {} store too",
                ctx.target
            )
        } else {
            format!(
                "{kept}, or migrate the images you need ({} not in the {} store)",
                count(missing.len() as u64, "tag"),
                ctx.target
            )
        },
        ..f
    }
    .with("examples", json!(examples))
    .with("not_in_target", missing.len());
    match examples.first() {
        None => finding,
        Some(example) => finding.fix(
            Fix::manual(
                "migrate",
                format!("Copy the images you need to the {} store", ctx.target),
                &[
                    &format!("stowctl images --store {hidden_store}"),
                    &format!("stowctl migrate {example} --to {}", ctx.target),
                ],
                None,
            )
            .with_action(FixAction::Migrate {
                from: hidden_store,
                to: ctx.target,
            }),
        ),
    }
}

/// `disk-space`: free space against what migrating the hidden store's images would need.
pub async fn disk_space(ctx: &CheckContext) -> Finding {
    let listing = ctx.listing().await;
    let hidden_store = ctx.target.other();
    let bytes = listing
        .report
        .stores
        .iter()
        .find(|s| s.store == hidden_store)
        .map(|s| s.bytes)
        .unwrap_or(0);
    // Copies land where the target store writes: data-root for the classic store, the
    // containerd root for the containerd store (a system containerd's may be elsewhere).
    let receiving = crate::stores::location::receiving_dir(&ctx.engine, ctx.target);
    let fs =
        tokio::task::spawn_blocking(move || crate::stores::location::filesystem_of(&receiving))
            .await
            .ok()
            .flatten();
    let Some(fs) = fs else {
        return Finding::new(
            Status::Error,
            format!(
                "the free space where the {} store writes could not be read",
                ctx.target
            ),
        );
    };
    let free = fs.free_bytes;
    let on = fs.mount_point.display().to_string();
    let needed = bytes.saturating_mul(2);
    let f = Finding::new(Status::Ok, String::new())
        .with("free_bytes", free)
        .with("migration_needs_bytes", needed)
        .with("min_free_bytes", ctx.min_free_bytes)
        .with("data_root", ctx.engine.data_root.display().to_string())
        .with("filesystem", fs.mount_point.display().to_string());
    if free < needed {
        return Finding {
            status: Status::Fail,
            summary: format!(
                "{} free on {on}, but migrating everything from the {hidden_store} store needs about {}",
                human(free),
                human(needed)
            ),
            ..f
        }
        .fix(Fix::manual(
            "free-space",
            "Free space first, or migrate only the images you need",
            &["docker system df", "docker image prune"],
            None,
        ));
    }
    if free < needed.saturating_add(ctx.min_free_bytes) {
        return Finding {
            status: Status::Warn,
            summary: format!("{} free on {on}: migrating everything from the {hidden_store} store ({}) would leave less than the {} Stowage keeps free", human(free), human(needed), human(ctx.min_free_bytes)),
            ..f
        };
    }
    Finding {
        summary: format!(
            "{} free on {on}; migrating everything from the {hidden_store} store needs about {}",
            human(free),
            human(needed)
        ),
        ..f
    }
}
