//! `repositories.json` (`{"Repositories": {repo: {reference: id}}}`) read straight into the
//! references of each image id, without building the file's map of maps first.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::digest::{from_prefixed, DigestMap};
use crate::error::{Error, Result};
use crate::stores::reference::familiar;

/// References of each image id, in familiar form (unsorted). Ids that are not sha256 digests
/// name no image on disk and are left out.
pub(super) type RefsById = DigestMap<Vec<String>>;

/// Parses the bytes of `path` (a missing file is no references).
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<RefsById> {
    let mut out = RefsById::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Top(&mut out).deserialize(&mut de).and_then(|()| de.end());
    parsed.map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    Ok(out)
}

/// The whole file: only `Repositories` is read.
struct Top<'a>(&'a mut RefsById);
/// `Repositories`: repository name -> its references.
struct Repos<'a>(&'a mut RefsById);
/// One repository: reference -> image id.
struct Refs<'a>(&'a mut RefsById);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `Repositories`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Repositories" {
                map.next_value_seed(Repos(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Repos<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Repos<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of repositories")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Refs(&mut *self.0))?;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Refs<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Refs<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of references to image ids")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some((reference, id)) = map.next_entry::<Cow<'de, str>, Cow<'de, str>>()? {
            if let Some(id) = from_prefixed(&id) {
                self.0.entry(id).or_default().push(familiar(&reference));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_grouped_by_id_in_familiar_form() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            r#"{{"Other": [1, {{"x": 2}}], "Repositories": {{
                "docker.io/library/alpine": {{"docker.io/library/alpine:3": "sha256:{a}", "docker.io/library/alpine@sha256:{b}": "sha256:{a}"}},
                "app": {{"app:1": "sha256:{b}", "app:\u0032": "sha256:{b}", "app:odd": "not-a-digest"}},
                "empty": {{}}
            }}}}"#
        );
        let got = parse(Path::new("r.json"), text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        let mut of_a = got[&from_prefixed(&format!("sha256:{a}")).unwrap()].clone();
        of_a.sort();
        assert_eq!(
            of_a,
            vec!["alpine:3".to_string(), format!("alpine@sha256:{b}")]
        );
        let of_b = &got[&from_prefixed(&format!("sha256:{b}")).unwrap()];
        assert_eq!(of_b, &vec!["app:1".to_string(), "app:2".to_string()]);
        assert!(parse(Path::new("r.json"), b"{}").unwrap().is_empty());
    }

    #[test]
    fn a_broken_file_is_a_parse_error_with_its_place() {
        let err = parse(Path::new("r.json"), b"{\"Repositories\": {\"a\": [").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        assert!(parse(Path::new("r.json"), b"{} trailing").is_err());
    }
}
