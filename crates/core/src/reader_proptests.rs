//! Every reader of a user's file, fed arbitrary bytes (and token soups that get past the first
//! character): no panic, bounded time, and a refusal leaves the file as it was.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::checks::registry_mirrors::{apply_fix, plan_hosts_toml};
use crate::daemon_json::{apply_edits, ConfigFile, DaemonJson, Edit, KeyPath};
use crate::features::catalog::Catalog;
use crate::settings::Settings;

/// Generous: each reader takes well under a millisecond on these inputs.
const BOUND: Duration = Duration::from_secs(2);

fn soup(tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|t| t.concat())
}

fn json_bytes() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b" ",
        b"\r\n",
        b"\"features\"",
        b"\"a\"",
        b"\"\\u",
        b"\"\\ud800\"",
        b"\"\\ud83d\\ude00\"",
        b"true",
        b"tru",
        b"null",
        b"1",
        b"-0.5e3",
        b"1e400",
        b"01",
        b"\xEF\xBB\xBF",
        b"\xFF\xFE",
        b"\xFF",
        b"\0",
        b"//",
        b"/*",
        b"*/",
        b"\xC2\xA0",
        b"\"",
        b"\\",
        b"{\"features\": {\"cdi\": true}}",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        soup(TOKENS),
        // Mostly valid documents, one byte changed.
        (soup(TOKENS), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut v, i, b)| {
            if !v.is_empty() {
                let at = i.index(v.len());
                v[at] = b;
            }
            v
        }),
    ]
}

fn toml_bytes(extra: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"[",
        b"]",
        b"[[",
        b"]]",
        b"=",
        b"\n",
        b" ",
        b"\"",
        b"'",
        b"#",
        b",",
        b"{",
        b"}",
        b"true",
        b"1",
        b"-1",
        b"1e400",
        b"99999999999999999999",
        b"\"x\"",
        b"'''",
        b"\xFF",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\r\n",
        b".",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (soup(TOKENS), soup(extra)).prop_map(|(a, b)| [b, a].concat()),
        (soup(extra), soup(TOKENS), soup(extra)).prop_map(|(a, b, c)| [a, b, c].concat()),
    ]
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let t = Instant::now();
    let out = f();
    prop_assert!(t.elapsed() < BOUND, "{what} took {:?}", t.elapsed());
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn daemon_json_any_bytes(bytes in json_bytes()) {
        let path = Path::new("/p/daemon.json");
        match timed("parse", || DaemonJson::parse_bytes(path, &bytes))? {
            Ok(doc) => {
                // What is read can be edited, and the edit reads back.
                let edit = Edit::Set(KeyPath::feature("cdi"), serde_json::Value::Bool(false));
                let out = timed("edit", || apply_edits(&doc, &[edit]))?;
                if doc.get(&KeyPath::top("features")).is_some_and(|f| !f.is_object()) {
                    prop_assert!(out.is_err());
                } else {
                    let out = out.unwrap().doc;
                    prop_assert_eq!(out.get_bool(&KeyPath::feature("cdi")), Some(false));
                    let again = DaemonJson::parse_bytes(path, &out.bytes()).unwrap();
                    prop_assert_eq!(again.value(), out.value());
                    prop_assert_eq!(again.encoding(), doc.encoding());
                }
            }
            Err(crate::Error::Parse { line, column, .. }) => {
                prop_assert!(line >= 1 && column >= 1);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn daemon_json_file_refusal_leaves_it_alone(bytes in json_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.json");
        std::fs::write(&p, &bytes).unwrap();
        let _ = timed("load", || ConfigFile::load(&p))?;
        prop_assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }

    #[test]
    fn settings_any_bytes(bytes in toml_bytes(&[
        b"[engines.", b"[timeouts]", b"first_run_done", b"default_engine", b"muted_checks",
        b"api", b"migration_min_free_bytes", b"restart_command", b"kind", b"[[engine]]",
    ])) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.toml");
        std::fs::write(&p, &bytes).unwrap();
        if let Ok(s) = timed("load", || Settings::load(&p))? {
            let _ = s.to_text();
        }
        prop_assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }

    #[test]
    fn features_toml_any_bytes(bytes in toml_bytes(&[
        b"[[feature]]\n", b"[feature]", b"id = \"containerd-snapshotter\"\n", b"id = \"new\"\n",
        b"id = 1\n", b"name = \"x\"\n", b"min_version = \"x\"\n", b"key = \"a.b\"\n", b"feature",
    ])) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("features.toml");
        std::fs::write(&p, &bytes).unwrap();
        let _ = timed("load", || Catalog::load(&p))?;
        prop_assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }

    #[test]
    fn hosts_toml_any_bytes(bytes in toml_bytes(&[
        b"server = \"https://registry-1.docker.io\"\n", b"[host.\"https://m\"]\n", b"[host]",
        b"host", b"capabilities = [\"pull\"]\n", b"skip_verify = true\n",
    ])) {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs.d");
        let p = certs.join("docker.io").join("hosts.toml");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &bytes).unwrap();
        let mirrors = ["mirror.example".to_string()];
        match timed("plan", || plan_hosts_toml(&certs, &mirrors, &[]))? {
            Ok(changes) => {
                // A plan is only made from a file it could read in full.
                prop_assert!(std::str::from_utf8(&bytes).is_ok());
                apply_fix(&changes).unwrap();
                let after = std::fs::read_to_string(&p).unwrap();
                prop_assert!(after.parse::<toml_edit::DocumentMut>().is_ok());
            }
            Err(_) => prop_assert_eq!(std::fs::read(&p).unwrap(), bytes),
        }
    }
}
