//! Bringing chosen compose projects up on the store the engine now runs:
//! `docker compose -p P --project-directory D -f F… up -d --no-build`, then every service is
//! confirmed running through the Engine API. Choosing refuses unknown projects and projects
//! whose files are gone before anything changes.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::group::{ComposeProject, ProjectsReport, PROJECT, SERVICE};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// Which projects to bring (`all` or names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// Every project of the store being left.
    All,
    /// These projects.
    Named(Vec<String>),
}

impl Which {
    /// Reads `all` or `P,Q`.
    pub fn parse(s: &str) -> Which {
        if s.trim() == "all" {
            Which::All
        } else {
            Which::Named(
                s.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        }
    }
}

/// The projects of the store `from` to bring across. Refused, with nothing changed: a name that
/// is not a project of `from`, and a project whose directory or files are gone.
pub fn choose(
    report: &ProjectsReport,
    from: ImageStore,
    which: &Which,
) -> Result<Vec<ComposeProject>> {
    let of_store: Vec<&ComposeProject> =
        report.projects.iter().filter(|p| p.store == from).collect();
    let chosen: Vec<ComposeProject> = match which {
        Which::All => of_store.into_iter().cloned().collect(),
        Which::Named(names) => {
            let mut out = Vec::new();
            for n in names {
                let Some(p) = of_store.iter().find(|p| &p.name == n) else {
                    return Err(Error::InvalidRequest(format!(
                        "no compose project `{n}` in the {from} store (see `stowctl projects`); nothing was changed"
                    )));
                };
                out.push((*p).clone());
            }
            out
        }
    };
    let gone: Vec<String> = chosen.iter().filter_map(gone_files).collect();
    if !gone.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "the compose files of {} are gone, so they cannot be brought up again; nothing was changed",
            gone.join(" and ")
        )));
    }
    Ok(chosen)
}

/// `` `name` (its folder and files) `` when the project's files are gone, else `None`.
fn gone_files(p: &ComposeProject) -> Option<String> {
    if p.files_present {
        return None;
    }
    let files: Vec<String> = p
        .working_dir
        .iter()
        .chain(p.config_files.iter())
        .map(|f| f.display().to_string())
        .collect();
    Some(format!(
        "`{}` ({})",
        p.name,
        if files.is_empty() {
            "its labels name no files".to_string()
        } else {
            files.join(", ")
        }
    ))
}

impl ComposeProject {
    /// Why it cannot be brought across (its files are gone), or `None` when it can.
    pub fn refusal(&self) -> Option<String> {
        gone_files(self)
            .map(|g| format!("the compose files of {g} are gone, so it cannot be brought up again"))
    }
}

/// The images the projects use, each once.
pub fn images_of(projects: &[ComposeProject]) -> Vec<String> {
    let mut out: Vec<String> = projects.iter().flat_map(|p| p.images.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// The `docker compose` arguments that bring `p` up without building.
pub fn compose_args(p: &ComposeProject) -> Vec<String> {
    let mut a = vec!["compose".to_string(), "-p".into(), p.name.clone()];
    if let Some(d) = &p.working_dir {
        a.push("--project-directory".into());
        a.push(d.display().to_string());
    }
    for f in &p.config_files {
        a.push("-f".into());
        a.push(f.display().to_string());
    }
    a.extend(["up", "-d", "--no-build"].map(String::from));
    a
}

/// One service after bringing its project up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The service.
    pub service: String,
    /// Whether one of its containers runs.
    pub running: bool,
}

/// What happened to one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectOutcome {
    /// The project.
    pub project: String,
    /// Whether every service runs.
    pub ok: bool,
    /// Per service.
    pub services: Vec<ServiceState>,
    /// Why not, when not.
    pub error: Option<String>,
}

/// Brings `p` up on `engine` with the `docker` CLI found on PATH, and confirms its services run.
#[tracing::instrument(level = "info", skip_all, fields(project = %p.name))]
pub async fn bring_up(engine: &Engine, p: &ComposeProject) -> ProjectOutcome {
    let mut cmd = tokio::process::Command::new("docker");
    cmd.args(compose_args(p))
        .env("DOCKER_HOST", &engine.host)
        .env_remove("DOCKER_CONTEXT")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(d) = &p.working_dir {
        cmd.current_dir(d);
    }
    let out = match tokio::time::timeout(Duration::from_secs(600), cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return failed(p, format!("cannot run `docker compose`: {e}")),
        Err(_) => return failed(p, "`docker compose up` did not finish within 10 min".into()),
    };
    if !out.status.success() {
        return failed(
            p,
            format!(
                "`docker {}` failed: {}",
                compose_args(p).join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }
    // Containers may take a moment to be running: ask for a few seconds.
    let mut services = Vec::new();
    for _ in 0..20 {
        match running_services(engine, &p.name).await {
            Ok(running) => {
                services = p
                    .services
                    .iter()
                    .map(|s| ServiceState {
                        service: s.clone(),
                        running: running.get(s).copied().unwrap_or(false),
                    })
                    .collect();
                if services.iter().all(|s| s.running) {
                    break;
                }
            }
            Err(e) => return failed(p, e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ok = !services.is_empty() && services.iter().all(|s| s.running);
    ProjectOutcome {
        project: p.name.clone(),
        ok,
        error: (!ok).then(|| {
            let down: Vec<&str> = services
                .iter()
                .filter(|s| !s.running)
                .map(|s| s.service.as_str())
                .collect();
            format!("not running after `docker compose up`: {}", down.join(", "))
        }),
        services,
    }
}

fn failed(p: &ComposeProject, error: String) -> ProjectOutcome {
    ProjectOutcome {
        project: p.name.clone(),
        ok: false,
        services: p
            .services
            .iter()
            .map(|s| ServiceState {
                service: s.clone(),
                running: false,
            })
            .collect(),
        error: Some(error),
    }
}

/// Per service of `project` in the active store: whether a container of it runs.
async fn running_services(engine: &Engine, project: &str) -> Result<HashMap<String, bool>> {
    use bollard::query_parameters::ListContainersOptions;
    let docker = crate::engine::client::connect(&engine.host, 30).await?;
    let opts = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("{PROJECT}={project}")],
        )])),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
    let mut out: HashMap<String, bool> = HashMap::new();
    for c in list {
        let Some(s) = c.labels.as_ref().and_then(|l| l.get(SERVICE)).cloned() else {
            continue;
        };
        let running = c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING);
        *out.entry(s).or_default() |= running;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn project(name: &str, present: bool) -> ComposeProject {
        ComposeProject {
            store: ImageStore::Classic,
            name: name.into(),
            working_dir: Some(PathBuf::from(format!("/srv/{name}"))),
            config_files: vec![
                PathBuf::from(format!("/srv/{name}/compose.yaml")),
                PathBuf::from(format!("/srv/{name}/more.yaml")),
            ],
            files_present: present,
            services: vec!["db".into(), "web".into()],
            images: vec![format!("{name}-web:1"), "postgres:16".into()],
            containers: vec![],
            running: 0,
        }
    }

    fn report() -> ProjectsReport {
        let mut other = project("elsewhere", true);
        other.store = ImageStore::Containerd;
        ProjectsReport {
            active: Some(ImageStore::Classic),
            projects: vec![project("shop", true), project("old", false), other],
            standalone: vec![],
        }
    }

    #[test]
    fn all_or_named_projects_of_the_store_being_left() {
        assert_eq!(Which::parse("all"), Which::All);
        assert_eq!(
            Which::parse("shop, blog,"),
            Which::Named(vec!["shop".into(), "blog".into()])
        );
        let got = choose(&report(), ImageStore::Classic, &Which::parse("shop")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(images_of(&got), ["postgres:16", "shop-web:1"]);
        let err = choose(&report(), ImageStore::Classic, &Which::parse("elsewhere")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no compose project `elsewhere` in the classic store"),
            "{err}"
        );
    }

    #[test]
    fn a_project_whose_files_are_gone_is_refused_by_name_and_path() {
        let err = choose(&report(), ImageStore::Classic, &Which::All)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("the compose files of `old` (/srv/old, /srv/old/compose.yaml, /srv/old/more.yaml) are gone"), "{err}");
        assert!(err.ends_with("nothing was changed"), "{err}");
        let old = project("old", false);
        assert_eq!(
            old.refusal().unwrap(),
            "the compose files of `old` (/srv/old, /srv/old/compose.yaml, /srv/old/more.yaml) are gone, so it cannot be brought up again"
        );
        assert_eq!(project("shop", true).refusal(), None);
    }

    #[test]
    fn compose_is_run_with_the_projects_own_name_directory_and_files() {
        assert_eq!(
            compose_args(&project("shop", true)).join(" "),
            "compose -p shop --project-directory /srv/shop -f /srv/shop/compose.yaml -f /srv/shop/more.yaml up -d --no-build"
        );
    }
}
