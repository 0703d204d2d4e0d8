//! Property tests of the editor: on random documents, an edit changes exactly its path, and
//! broken input is reported with a position inside the text.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{apply_edits, DaemonJson, Edit, KeyPath};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "[a-zA-Z0-9 _./:é東-]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z-]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z][a-z-]{0,10}", value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

/// Prints `v` in one of several real-world styles.
fn render(v: &Map<String, Value>, style: u8) -> String {
    let value = Value::Object(v.clone());
    match style % 3 {
        0 => serde_json::to_string(&value).unwrap(),
        1 => serde_json::to_string_pretty(&value).unwrap() + "\n",
        _ => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&value, &mut ser).unwrap();
            String::from_utf8(buf).unwrap() + "\n"
        }
    }
}

fn parse(text: &str) -> DaemonJson {
    DaemonJson::parse(Path::new("/p/daemon.json"), text).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn setting_a_feature_changes_exactly_that_path(doc in document(), style in 0u8..3, on in any::<bool>(), name in "[a-z][a-z-]{0,12}") {
        let text = render(&doc, style);
        let before = parse(&text);
        let result = apply_edits(&before, &[Edit::set_feature(&name, on)]);
        match doc.get("features") {
            Some(f) if !f.is_object() => {
                prop_assert!(result.is_err());
            }
            _ => {
                let after = result.unwrap().doc;
                let mut expected = before.value().clone();
                let features = expected.entry("features").or_insert_with(|| Value::Object(Map::new()));
                features.as_object_mut().unwrap().insert(name.clone(), Value::Bool(on));
                prop_assert_eq!(after.value(), &expected);
                // Keys keep their order; a new `features` goes last.
                let keys_after: Vec<&String> = after.value().keys().collect();
                let keys_expected: Vec<&String> = expected.keys().collect();
                prop_assert_eq!(keys_after, keys_expected);
                // The trailing-newline convention is kept.
                prop_assert_eq!(after.text().ends_with('\n'), text.ends_with('\n'));
            }
        }
    }

    #[test]
    fn unsetting_a_key_removes_only_that_key(doc in document(), style in 0u8..3, pick in any::<prop::sample::Index>()) {
        prop_assume!(!doc.is_empty());
        let key = doc.keys().nth(pick.index(doc.len())).unwrap().clone();
        let before = parse(&render(&doc, style));
        let after = apply_edits(&before, &[Edit::Unset(KeyPath::top(&key))]).unwrap().doc;
        let mut expected = before.value().clone();
        expected.shift_remove(&key);
        prop_assert_eq!(after.value(), &expected);
    }

    #[test]
    fn truncated_input_is_an_error_with_a_position_in_the_text(doc in document(), style in 0u8..3, cut in any::<prop::sample::Index>()) {
        let text = render(&doc, style);
        let at = cut.index(text.trim_end().len().max(1));
        prop_assume!(text.is_char_boundary(at));
        let broken = &text[..at];
        // Blank input is an empty configuration for dockerd, not an error.
        prop_assume!(!broken.trim().is_empty());
        prop_assume!(serde_json::from_str::<Value>(broken).is_err());
        let err = DaemonJson::parse(Path::new("/p/daemon.json"), broken).unwrap_err();
        match err {
            crate::Error::Parse { line, column, .. } => {
                prop_assert!(line >= 1 && line <= broken.lines().count().max(1) + 1);
                prop_assert!(column >= 1);
            }
            other => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
