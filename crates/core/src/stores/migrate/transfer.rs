//! Moving the images: `docker save` into a temporary archive and `docker load` from it, as
//! streams that report their bytes and fail (rather than hang) when the engine stops making
//! progress.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::apply::MigrationEvent;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// Streams `refs` from the engine (`docker save`) into `archive`, reporting bytes.
pub async fn save(
    engine: &Engine,
    refs: &[String],
    archive: &Path,
    total: u64,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
) -> Result<()> {
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let names: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut stream = docker.export_images(&names);
    let mut file = tokio::fs::File::create(archive)
        .await
        .map_err(|e| Error::io(archive, "create", e))?;
    let mut done = 0u64;
    let mut last = 0u64;
    let limit = stall_limit();
    loop {
        let Ok(next) = tokio::time::timeout(limit, stream.next()).await else {
            return Err(stalled(engine, "sending the images (docker save)", limit));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(archive, "write", e))?;
        done += chunk.len() as u64;
        if done - last >= 1 << 20 {
            last = done;
            events(MigrationEvent::Bytes {
                phase: "save",
                done,
                total,
            });
        }
    }
    file.sync_all()
        .await
        .map_err(|e| Error::io(archive, "fsync", e))?;
    events(MigrationEvent::Bytes {
        phase: "save",
        done,
        total: total.max(done),
    });
    Ok(())
}

/// Streams `archive` into the engine (`docker load`), reporting bytes.
pub async fn load(
    engine: &Engine,
    archive: &Path,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
) -> Result<()> {
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let file = tokio::fs::File::open(archive)
        .await
        .map_err(|e| Error::io(archive, "open", e))?;
    let total = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c2 = counter.clone();
    let body = tokio_util::io::ReaderStream::new(file).map(move |r| {
        if let Ok(b) = &r {
            c2.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        r
    });
    let opts = bollard::query_parameters::ImportImageOptions {
        quiet: true,
        ..Default::default()
    };
    let mut stream = docker.import_image(opts, bollard::body_try_stream(body), None);
    // An engine that stops taking the archive is an error, not a hang; once it has all of it,
    // unpacking may take long without a word, and an engine that dies closes the connection.
    let limit = stall_limit();
    let mut taken = 0u64;
    loop {
        let next = match tokio::time::timeout(limit, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                let now = counter.load(Ordering::Relaxed);
                if now == taken && now < total {
                    return Err(stalled(engine, "taking the archive (docker load)", limit));
                }
                taken = now;
                continue;
            }
        };
        let Some(item) = next else { break };
        item.map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
        events(MigrationEvent::Bytes {
            phase: "load",
            done: counter.load(Ordering::Relaxed),
            total,
        });
    }
    events(MigrationEvent::Bytes {
        phase: "load",
        done: total,
        total,
    });
    Ok(())
}

/// How long a migration's stream may go without progress: four API time limits, at least 2 min.
fn stall_limit() -> std::time::Duration {
    (crate::engine::client::api_timeout() * 4).max(std::time::Duration::from_secs(120))
}

fn stalled(engine: &Engine, what: &str, limit: std::time::Duration) -> Error {
    Error::Engine {
        host: engine.host.clone(),
        message: format!(
            "the engine made no progress {what} for {} s",
            limit.as_secs()
        ),
    }
}
