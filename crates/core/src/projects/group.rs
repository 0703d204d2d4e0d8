//! Grouping containers into compose projects (by their compose labels) and standalone
//! containers, per store. Pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::facts::ContainerFacts;
use crate::engine::store::ImageStore;
use crate::stores::model::ContainerEntry;

/// The compose labels read.
pub const PROJECT: &str = "com.docker.compose.project";
/// The project's directory.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// The project's files, comma-separated.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// The service a container runs.
pub const SERVICE: &str = "com.docker.compose.service";

/// A compose project as its containers in one store describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComposeProject {
    /// The store its containers are in.
    pub store: ImageStore,
    /// `com.docker.compose.project`.
    pub name: String,
    /// `--project-directory`, when the labels say.
    pub working_dir: Option<PathBuf>,
    /// `-f` files, in order.
    pub config_files: Vec<PathBuf>,
    /// Whether the working dir and every file still exist.
    pub files_present: bool,
    /// Service names.
    pub services: Vec<String>,
    /// Image references its containers were created from.
    pub images: Vec<String>,
    /// Container names.
    pub containers: Vec<String>,
    /// How many of them run.
    pub running: u64,
}

/// A container made without compose: it stays in its store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandaloneContainer {
    /// The store it is in.
    pub store: ImageStore,
    /// Its name.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image id it uses.
    pub image_id: String,
    /// State, ports and volumes.
    #[serde(flatten)]
    pub facts: ContainerFacts,
}

/// Projects and standalone containers of both stores.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectsReport {
    /// The store the engine runs.
    pub active: Option<ImageStore>,
    /// Compose projects, by store then name.
    pub projects: Vec<ComposeProject>,
    /// Containers made without compose.
    pub standalone: Vec<StandaloneContainer>,
}

impl ProjectsReport {
    /// The projects and standalone containers of `store` (what a switch away from it hides).
    pub fn of_store(&self, store: ImageStore) -> ProjectsReport {
        ProjectsReport {
            active: self.active,
            projects: self
                .projects
                .iter()
                .filter(|p| p.store == store)
                .cloned()
                .collect(),
            standalone: self
                .standalone
                .iter()
                .filter(|c| c.store == store)
                .cloned()
                .collect(),
        }
    }
}

/// Groups `containers` (each with its store and facts); `exists` tells whether a path exists.
pub fn group(
    containers: &[(ImageStore, ContainerEntry, ContainerFacts)],
    exists: &dyn Fn(&Path) -> bool,
) -> (Vec<ComposeProject>, Vec<StandaloneContainer>) {
    let mut projects: BTreeMap<(&str, String), ComposeProject> = BTreeMap::new();
    let mut standalone = Vec::new();
    for (store, c, facts) in containers {
        let Some(name) = c.labels.get(PROJECT).filter(|n| !n.is_empty()) else {
            standalone.push(StandaloneContainer {
                store: *store,
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: c.image_id.clone(),
                facts: facts.clone(),
            });
            continue;
        };
        let p = projects
            .entry((store.as_str(), name.clone()))
            .or_insert_with(|| ComposeProject {
                store: *store,
                name: name.clone(),
                working_dir: None,
                config_files: Vec::new(),
                files_present: false,
                services: Vec::new(),
                images: Vec::new(),
                containers: Vec::new(),
                running: 0,
            });
        if p.working_dir.is_none() {
            p.working_dir = c.labels.get(WORKING_DIR).map(PathBuf::from);
        }
        if p.config_files.is_empty() {
            p.config_files = c
                .labels
                .get(CONFIG_FILES)
                .map(|f| {
                    f.split(',')
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default();
        }
        if let Some(s) = c.labels.get(SERVICE) {
            if !p.services.contains(s) {
                p.services.push(s.clone());
            }
        }
        if !c.image.is_empty() && !c.image.starts_with("sha256:") && !p.images.contains(&c.image) {
            p.images.push(c.image.clone());
        }
        p.containers.push(c.name.clone());
        if facts.state == "running" {
            p.running += 1;
        }
    }
    let mut projects: Vec<ComposeProject> = projects.into_values().collect();
    for p in &mut projects {
        p.services.sort();
        p.images.sort();
        p.containers.sort();
        p.files_present = p.working_dir.as_deref().is_some_and(exists)
            && !p.config_files.is_empty()
            && p.config_files.iter().all(|f| exists(f));
    }
    standalone.sort_by(|a, b| (a.store.as_str(), &a.name).cmp(&(b.store.as_str(), &b.name)));
    (projects, standalone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, image: &str, labels: &[(&str, &str)]) -> ContainerEntry {
        ContainerEntry {
            id: name.into(),
            name: name.into(),
            image: image.into(),
            image_id: format!("sha256:{name}"),
            driver: "overlay2".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn compose(project: &str, service: &str) -> Vec<(&'static str, String)> {
        vec![
            (PROJECT, project.to_string()),
            (SERVICE, service.to_string()),
            (WORKING_DIR, format!("/srv/{project}")),
            (
                CONFIG_FILES,
                format!("/srv/{project}/compose.yaml,/srv/{project}/override.yaml"),
            ),
        ]
    }

    fn facts(state: &str) -> ContainerFacts {
        ContainerFacts {
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn containers_group_by_store_and_project_and_the_rest_stand_alone() {
        let l = |p: &str, s: &str| compose(p, s);
        fn lab<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
            v.iter().map(|(k, v)| (*k, v.as_str())).collect()
        }
        let (web, db, other) = (l("shop", "web"), l("shop", "db"), l("blog", "app"));
        let list = vec![
            (
                ImageStore::Classic,
                c("shop-web-1", "web:1", &lab(&web)),
                facts("running"),
            ),
            (
                ImageStore::Classic,
                c("shop-db-1", "db:1", &lab(&db)),
                facts("exited"),
            ),
            (
                ImageStore::Classic,
                c("shop-web-2", "web:1", &lab(&web)),
                facts("running"),
            ),
            (
                ImageStore::Containerd,
                c("blog-app-1", "app:1", &lab(&other)),
                facts("created"),
            ),
            (
                ImageStore::Classic,
                c("lonely", "busybox:1", &[]),
                facts("exited"),
            ),
        ];
        let present = |p: &Path| p.starts_with("/srv/shop");
        let (projects, standalone) = group(&list, &present);
        assert_eq!(projects.len(), 2);
        let shop = &projects[0];
        assert_eq!(
            (shop.store, shop.name.as_str()),
            (ImageStore::Classic, "shop")
        );
        assert_eq!(shop.services, ["db", "web"]);
        assert_eq!(shop.images, ["db:1", "web:1"]);
        assert_eq!(shop.containers, ["shop-db-1", "shop-web-1", "shop-web-2"]);
        assert_eq!(shop.running, 2);
        assert_eq!(shop.working_dir.as_deref(), Some(Path::new("/srv/shop")));
        assert_eq!(shop.config_files.len(), 2);
        assert!(shop.files_present);
        let blog = &projects[1];
        assert_eq!(blog.store, ImageStore::Containerd);
        assert!(!blog.files_present, "its files are gone");
        assert_eq!(standalone.len(), 1);
        assert_eq!(standalone[0].name, "lonely");
        assert_eq!(standalone[0].image, "busybox:1");
    }

    #[test]
    fn a_project_without_files_in_its_labels_has_no_files_present() {
        let list = vec![(
            ImageStore::Classic,
            c("x-1", "x:1", &[(PROJECT, "x")]),
            facts("running"),
        )];
        let (projects, _) = group(&list, &|_| true);
        assert!(!projects[0].files_present);
        assert!(projects[0].working_dir.is_none());
    }
}
