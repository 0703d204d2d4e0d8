//! The engine's own disk accounting, `GET /system/df` (what `docker system df` prints), read
//! raw over the engine's unix socket: bollard's model follows the API 1.52 shape (`ImageUsage`,
//! …) that older engines do not send, so both shapes are read here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Totals as `docker system df` computes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineDf {
    /// Images: the engine's `LayersSize`.
    pub images_bytes: u64,
    /// Containers: their writable layers (`SizeRw`).
    pub containers_bytes: u64,
    /// Local volumes (those whose size the engine knows).
    pub volumes_bytes: u64,
    /// How many volumes.
    pub volumes: u64,
    /// Build cache records not shared with images.
    pub build_cache_bytes: u64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Raw {
    layers_size: Option<i64>,
    containers: Option<Vec<RawContainer>>,
    volumes: Option<Vec<RawVolume>>,
    build_cache: Option<Vec<RawCache>>,
    image_usage: Option<RawUsage>,
    container_usage: Option<RawUsage>,
    volume_usage: Option<RawUsage>,
    build_cache_usage: Option<RawUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawContainer {
    size_rw: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawVolume {
    usage_data: Option<RawVolumeUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawVolumeUsage {
    size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawCache {
    size: Option<i64>,
    #[serde(default)]
    shared: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawUsage {
    total_size: Option<i64>,
    total_count: Option<i64>,
}

fn pos(n: i64) -> u64 {
    n.max(0) as u64
}

/// Reads a `/system/df` answer of either shape.
pub fn parse(body: &[u8]) -> Result<EngineDf> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| Error::internal("reading the engine's /system/df answer", e))?;
    let total = |u: &Option<RawUsage>| u.as_ref().and_then(|u| u.total_size).map(pos);
    let volumes = raw.volumes.as_deref().unwrap_or_default();
    Ok(EngineDf {
        images_bytes: total(&raw.image_usage)
            .unwrap_or_else(|| raw.layers_size.map(pos).unwrap_or(0)),
        containers_bytes: total(&raw.container_usage).unwrap_or_else(|| {
            raw.containers
                .iter()
                .flatten()
                .filter_map(|c| c.size_rw)
                .map(pos)
                .sum()
        }),
        volumes_bytes: total(&raw.volume_usage).unwrap_or_else(|| {
            volumes
                .iter()
                .filter_map(|v| v.usage_data.as_ref())
                .map(|u| pos(u.size))
                .sum()
        }),
        volumes: raw
            .volume_usage
            .as_ref()
            .and_then(|u| u.total_count)
            .map(pos)
            .unwrap_or(volumes.len() as u64),
        build_cache_bytes: total(&raw.build_cache_usage).unwrap_or_else(|| {
            raw.build_cache
                .iter()
                .flatten()
                .filter(|c| !c.shared)
                .filter_map(|c| c.size)
                .map(pos)
                .sum()
        }),
    })
}

/// Asks the engine at `host` (a `unix://` address) for its disk accounting. It walks every
/// layer, so it may take a while on a big store: four times the API time limit.
#[tracing::instrument(level = "info")]
pub async fn system_df(host: &str) -> Result<EngineDf> {
    use http_body_util::BodyExt;
    let Some(path) = host.strip_prefix("unix://") else {
        return Err(Error::InvalidRequest(format!(
            "the engine's disk accounting is read over its unix socket only, not {host}"
        )));
    };
    let fail = |m: String| Error::Engine {
        host: host.to_string(),
        message: m,
    };
    let limit = crate::engine::client::api_timeout() * 4;
    let fut = async {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| fail(e.to_string()))?;
        tokio::spawn(conn);
        let req = hyper::Request::get("/system/df")
            .header("Host", "docker")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| Error::internal("building /system/df", e))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(fail(format!(
                "/system/df answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }
        parse(&body)
    };
    match tokio::time::timeout(limit.max(Duration::from_secs(1)), fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            step: "/system/df".into(),
            seconds: limit.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_are_read_as_docker_system_df_adds_them_up() {
        let old =
            br#"{"LayersSize":40960,"Images":[],"Containers":[{"SizeRw":4096},{"SizeRw":100}],
            "Volumes":[{"UsageData":{"Size":10}},{"UsageData":{"Size":-1}},{"UsageData":null}],
            "BuildCache":[{"Size":7,"Shared":false},{"Size":1000,"Shared":true}]}"#;
        assert_eq!(
            parse(old).unwrap(),
            EngineDf {
                images_bytes: 40960,
                containers_bytes: 4196,
                volumes_bytes: 10,
                volumes: 3,
                build_cache_bytes: 7
            }
        );
        let new =
            br#"{"ImageUsage":{"TotalSize":5,"TotalCount":1},"ContainerUsage":{"TotalSize":6},
            "VolumeUsage":{"TotalSize":7,"TotalCount":2},"BuildCacheUsage":{"TotalSize":8}}"#;
        assert_eq!(
            parse(new).unwrap(),
            EngineDf {
                images_bytes: 5,
                containers_bytes: 6,
                volumes_bytes: 7,
                volumes: 2,
                build_cache_bytes: 8
            }
        );
    }
}
