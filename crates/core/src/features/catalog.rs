//! The catalog: an embedded TOML file, optionally extended or overridden by the user's
//! `features.toml` (entries matched by `id`; fields given there replace the built-in ones).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const BUILTIN: &str = include_str!("catalog.toml");

/// Which panel a feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// "Beta features".
    Beta,
    /// "Experimental features".
    Experimental,
}

/// How a feature is set in daemon.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConfigBinding {
    /// A boolean at a dotted key (`features.cdi`, `experimental`).
    Bool { key: String },
    /// Entries in `runtimes` for each Wasm shim found.
    WasmRuntimes,
}

/// What the engine does when daemon.json says nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DefaultRule {
    /// Off.
    Off,
    /// On.
    On,
    /// On from this engine version.
    From { version: semver::Version },
    /// The containerd store's own rule (classic before 29.0; see [`crate::engine::store::effective_default`]).
    ContainerdStore,
}

/// One feature of the panels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Stable id (`containerd-image-store`).
    pub id: String,
    /// The checkbox label.
    pub title: String,
    /// The feature in a sentence ("Turn on the containerd image store"); the title when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// One paragraph for people.
    pub description: String,
    /// Beta or experimental.
    pub stage: Stage,
    /// How it is set.
    pub config: ConfigBinding,
    /// First engine version that has it.
    #[serde(default)]
    pub min_engine: Option<semver::Version>,
    /// Last engine version that has it.
    #[serde(default)]
    pub max_engine: Option<semver::Version>,
    /// Default when not set.
    pub default: DefaultRule,
    /// Features that must be on for this one.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Features that must be off for this one.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// daemon.json keys that must be absent for this one (e.g. `userns-remap`).
    #[serde(default)]
    pub conflicts_keys: Vec<String>,
    /// Whether a daemon restart is needed.
    pub restart: bool,
    /// Documentation link.
    #[serde(default)]
    pub docs: Option<String>,
}

impl Feature {
    /// The feature as a sentence names it: its `name`, else its title.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.title)
    }
}

/// The features, in panel order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    /// All features.
    pub features: Vec<Feature>,
}

#[derive(Deserialize)]
struct CatalogFile {
    feature: Vec<Feature>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Self {
        let file: CatalogFile = toml::from_str(BUILTIN).expect("the embedded catalog is valid");
        Catalog {
            features: file.feature,
        }
    }

    /// The built-in catalog with the user's file applied, when it exists.
    pub fn load(user_file: &Path) -> Result<Self> {
        match crate::userfile::read_to_string(user_file) {
            Ok(text) => Self::with_overrides(user_file, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::builtin()),
            Err(e) => Err(Error::io(user_file, "read", e)),
        }
    }

    /// The built-in catalog with `text` (a user's features.toml) applied.
    pub fn with_overrides(path: &Path, text: &str) -> Result<Self> {
        let parse_err = |text: &str, e: toml::de::Error| {
            Error::parse_at(path, text, e.span().map(|s| s.start), e.message())
        };
        let mut base: toml::Table = toml::from_str(BUILTIN).expect("the embedded catalog is valid");
        let user: toml::Table = toml::from_str(text).map_err(|e| parse_err(text, e))?;
        let Some(user_features) = user.get("feature") else {
            return Ok(Self::builtin());
        };
        let user_features = user_features.as_array().ok_or_else(|| Error::Field {
            path: path.to_path_buf(),
            field: "feature".into(),
            message: "must be a list of [[feature]] tables".into(),
        })?;
        let base_features = base
            .get_mut("feature")
            .and_then(|f| f.as_array_mut())
            .expect("built-in catalog has features");
        for (i, uf) in user_features.iter().enumerate() {
            let ut = uf.as_table().ok_or_else(|| Error::Field {
                path: path.to_path_buf(),
                field: format!("feature[{i}]"),
                message: "must be a table".into(),
            })?;
            let id = ut
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| Error::Field {
                    path: path.to_path_buf(),
                    field: format!("feature[{i}].id"),
                    message: "is required".into(),
                })?;
            match base_features
                .iter_mut()
                .find(|b| b.get("id").and_then(|v| v.as_str()) == Some(id))
                .and_then(|b| b.as_table_mut())
            {
                Some(bt) => {
                    for (k, v) in ut {
                        bt.insert(k.clone(), v.clone());
                    }
                }
                None => base_features.push(uf.clone()),
            }
        }
        let merged = toml::to_string(&base).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let file: CatalogFile = toml::from_str(&merged).map_err(|e| Error::Field {
            path: path.to_path_buf(),
            field: "feature".into(),
            message: e.message().to_string(),
        })?;
        Ok(Catalog {
            features: file.feature,
        })
    }

    /// The feature with this id.
    pub fn get(&self, id: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.id == id)
    }

    /// Ids, for error messages.
    pub fn ids(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_store_with_its_facts() {
        let c = Catalog::builtin();
        let store = c.get("containerd-image-store").unwrap();
        assert_eq!(store.stage, Stage::Beta);
        assert_eq!(
            store.config,
            ConfigBinding::Bool {
                key: "features.containerd-snapshotter".into()
            }
        );
        assert_eq!(store.min_engine, Some(semver::Version::new(24, 0, 0)));
        assert_eq!(store.conflicts_keys, vec!["userns-remap".to_string()]);
        assert_eq!(
            c.get("wasm").unwrap().requires,
            vec!["containerd-image-store".to_string()]
        );
        assert_eq!(c.get("experimental").unwrap().stage, Stage::Experimental);
        assert_eq!(
            c.get("cdi").unwrap().default,
            DefaultRule::From {
                version: semver::Version::new(28, 3, 0)
            }
        );
    }

    #[test]
    fn user_file_overrides_fields_and_adds_features() {
        let text = "[[feature]]\nid = \"experimental\"\ntitle = \"Daemon experiments\"\n\n[[feature]]\nid = \"my-flag\"\ntitle = \"Mine\"\ndescription = \"x\"\nstage = \"experimental\"\nconfig = { kind = \"bool\", key = \"features.mine\" }\ndefault = { kind = \"off\" }\nrestart = true\n";
        let c = Catalog::with_overrides(Path::new("/u/features.toml"), text).unwrap();
        assert_eq!(c.get("experimental").unwrap().title, "Daemon experiments");
        assert!(c.get("experimental").unwrap().restart);
        assert!(c.get("my-flag").is_some());
        assert_eq!(c.features.len(), Catalog::builtin().features.len() + 1);
    }

    #[test]
    fn broken_user_file_names_its_position() {
        let err = Catalog::with_overrides(Path::new("/u/features.toml"), "[[feature]\nid = 1\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("/u/features.toml:1:"), "{err}");
        let err = Catalog::with_overrides(
            Path::new("/u/features.toml"),
            "[[feature]]\ntitle = \"x\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/u/features.toml: field `feature[0].id`: is required"
        );
    }
}
