//! The containerd store's objects, deleted through containerd's API (never by deleting its
//! folders, which other namespaces and the running engine share): the image records of the
//! engine's namespace, the leases that hold its containers' writable snapshots, then a garbage
//! collection that frees the content and snapshots nothing references any more.

use std::path::{Path, PathBuf};

use containerd_client::services::v1::{
    CreateRequest, DeleteImageRequest, DeleteRequest, ListImagesRequest, ListRequest,
};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use serde::Serialize;

use crate::error::Result;
use crate::stores::containerd::{connect, grpc_error};

/// What belongs to the containerd store in containerd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerdObjects {
    /// The containerd that holds them.
    pub socket: PathBuf,
    /// The engine's namespace there (`moby`).
    pub namespace: String,
    /// Image records, by name.
    pub images: Vec<String>,
    /// Leases holding the writable snapshots of the store's containers (named by container id).
    pub container_leases: Vec<String>,
    /// Other leases of the namespace: left alone (containerd expires the temporary ones itself).
    pub other_leases: Vec<String>,
}

/// Lists the store's images and the leases of `containers` (container ids) in `namespace`.
#[tracing::instrument(level = "info", skip(containers))]
pub async fn inventory(
    socket: &Path,
    namespace: &str,
    containers: &[String],
) -> Result<ContainerdObjects> {
    let client = connect(socket).await?;
    let images = client
        .images()
        .list(with_namespace!(
            ListImagesRequest { filters: vec![] },
            namespace
        ))
        .await
        .map_err(|e| grpc_error(socket, e))?
        .into_inner()
        .images;
    let leases = client
        .leases()
        .list(with_namespace!(ListRequest { filters: vec![] }, namespace))
        .await
        .map_err(|e| grpc_error(socket, e))?
        .into_inner()
        .leases;
    let mut images: Vec<String> = images.into_iter().map(|i| i.name).collect();
    images.sort();
    let (mut container_leases, mut other_leases): (Vec<String>, Vec<String>) = leases
        .into_iter()
        .map(|l| l.id)
        .partition(|id| containers.contains(id));
    container_leases.sort();
    other_leases.sort();
    Ok(ContainerdObjects {
        socket: socket.to_path_buf(),
        namespace: namespace.to_string(),
        images,
        container_leases,
        other_leases,
    })
}

/// Deletes the image records and container leases of `objects`, then has containerd collect
/// the garbage synchronously (a lease of Stowage's own, deleted with `sync`), so the bytes are
/// free when this returns.
#[tracing::instrument(level = "info", skip_all, fields(images = objects.images.len()))]
pub async fn delete(objects: &ContainerdObjects) -> Result<()> {
    let (socket, ns) = (objects.socket.as_path(), objects.namespace.as_str());
    let client = connect(socket).await?;
    let mut images = client.images();
    for name in &objects.images {
        let req = DeleteImageRequest {
            name: name.clone(),
            sync: false,
            ..Default::default()
        };
        match images.delete(with_namespace!(req, ns)).await {
            Ok(_) => {}
            Err(e) if e.code() == containerd_client::tonic::Code::NotFound => {}
            Err(e) => return Err(grpc_error(socket, e)),
        }
    }
    let mut leases = client.leases();
    for id in &objects.container_leases {
        let req = DeleteRequest {
            id: id.clone(),
            sync: false,
        };
        match leases.delete(with_namespace!(req, ns)).await {
            Ok(_) => {}
            Err(e) if e.code() == containerd_client::tonic::Code::NotFound => {}
            Err(e) => return Err(grpc_error(socket, e)),
        }
    }
    // containerd has no "collect now" call; deleting a lease with `sync` runs one and waits.
    let gc = format!("stowage-reclaim-{}", std::process::id());
    leases
        .create(with_namespace!(
            CreateRequest {
                id: gc.clone(),
                labels: Default::default(),
            },
            ns
        ))
        .await
        .map_err(|e| grpc_error(socket, e))?;
    leases
        .delete(with_namespace!(DeleteRequest { id: gc, sync: true }, ns))
        .await
        .map_err(|e| grpc_error(socket, e))?;
    Ok(())
}
