//! Stowage reads daemon.json with exactly dockerd's grammar: a differential test against the real
//! `dockerd --validate` over the public JSONTestSuite (`tests/fixtures/JSONTestSuite`, MIT), each
//! file (a) as the whole daemon.json and (b) as the value of a key dockerd takes any JSON under
//! (`builder` is read into a struct, which ignores unknown fields: `{"builder": {"stowage-any": …}}`),
//! plus generated variants (byte-order marks, CRLF, blank files, NUL, trailing text, nesting
//! around dockerd's 10,000 limit, numbers out of float64 range, ...).
//!
//! dockerd's verdict has three kinds: OK, a refusal of the JSON itself (Go's `encoding/json` and
//! dockerd's decoding), and a refusal of the content (unknown directive, wrong type for a known
//! option: Stowage's parser accepts the JSON and leaves that to the validator, which runs before
//! every write). Agreement is exact: dockerd OK means Stowage reads the file, edits it, and
//! dockerd accepts the edited file; a refused JSON means Stowage refuses it with a position; a
//! refused content means Stowage reads the JSON. The only disagreements are the on-purpose
//! refusals of duplicate keys, listed in [`DUPLICATE_KEY_CASES`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use stowage_core::daemon_json::{apply_edits, DaemonJson, Edit};
use stowage_tests::require_engine;

/// Cases where Stowage refuses, on purpose, a file dockerd takes: duplicate keys (dockerd
/// silently keeps the last one; an editor cannot know which one was meant).
const DUPLICATE_KEY_CASES: &[&str] = &[
    "whole/y_object_duplicated_key.json",
    "whole/y_object_duplicated_key_and_value.json",
    "builder/y_object_duplicated_key.json",
    "builder/y_object_duplicated_key_and_value.json",
    "generated/duplicate-top-level",
    "generated/duplicate-nested",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dockerd {
    Ok,
    /// dockerd refused the JSON itself.
    Grammar,
    /// dockerd read the JSON and refused what it says.
    Content,
}

/// The messages of Go's `encoding/json` and dockerd's decoding (Engine 26), as opposed to config
/// checks.
const GRAMMAR_MARKERS: &[&str] = &[
    "invalid character",
    "unexpected end of JSON input",
    "encoding: invalid UTF-8",
    "into Go value of type float64",
    "into Go value of type map[string]interface",
];

fn dockerd_verdict(dockerd: &Path, file: &Path) -> (Dockerd, String) {
    let out = Command::new(dockerd)
        .arg("--validate")
        .arg("--config-file")
        .arg(file)
        .output()
        .expect("run dockerd --validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = if out.status.success() {
        Dockerd::Ok
    } else if GRAMMAR_MARKERS.iter().any(|m| text.contains(m))
        // Engine 28's messages: every JSON error says "invalid JSON:"; those of the typed pass
        // over the known options name a field of `Config` (content, not grammar).
        || (text.contains("invalid JSON:") && !text.contains("Go struct field Config."))
    {
        Dockerd::Grammar
    } else {
        Dockerd::Content
    };
    (verdict, text.trim().chars().take(300).collect())
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/JSONTestSuite/test_parsing")
}

fn in_builder(value: &[u8]) -> Vec<u8> {
    let mut v = b"{\"builder\": {\"stowage-any\": ".to_vec();
    v.extend_from_slice(value);
    v.extend_from_slice(b"}}\n");
    v
}

/// A file nested `depth` levels deep in total (the top-level object counts as one).
fn nested(depth: usize) -> Vec<u8> {
    format!(
        "{{\"builder\": {{\"x\": {}{}}}}}",
        "[".repeat(depth - 2),
        "]".repeat(depth - 2)
    )
    .into_bytes()
}

fn generated() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace-only", b" \t\r\n \n".to_vec()),
        ("unicode-space-only", "\u{a0}\u{3000}\u{b}\u{c}".into()),
        ("null", b"null\n".to_vec()),
        ("bom-object", b"\xEF\xBB\xBF{\"debug\": true}\n".to_vec()),
        ("bom-only", b"\xEF\xBB\xBF".to_vec()),
        ("bom-whitespace-object", b"\xEF\xBB\xBF \n{}".to_vec()),
        ("whitespace-bom-object", b" \xEF\xBB\xBF{}".to_vec()),
        ("two-boms", b"\xEF\xBB\xBF\xEF\xBB\xBF{}".to_vec()),
        (
            "bom-utf16le",
            b"\xFF\xFE{\0\"\0d\0e\0b\0u\0g\0\"\0:\0t\0r\0u\0e\0}\0".to_vec(),
        ),
        (
            "bom-utf16be",
            b"\xFE\xFF\0{\0\"\0d\0e\0b\0u\0g\0\"\0:\0t\0r\0u\0e\0}".to_vec(),
        ),
        ("utf16le-no-bom", b"{\0}\0".to_vec()),
        (
            "crlf",
            b"{\r\n  \"debug\": true,\r\n  \"features\": {}\r\n}\r\n".to_vec(),
        ),
        ("nbsp-around", "\u{a0}{\"debug\": true}\u{3000}\n".into()),
        ("nbsp-inside", "{\u{a0}\"debug\": true}".into()),
        ("nul-after", b"{\"debug\": true}\0".to_vec()),
        ("nul-before", b"\0{\"debug\": true}".to_vec()),
        (
            "nul-in-string",
            b"{\"builder\": {\"x\": \"a\0b\"}}".to_vec(),
        ),
        (
            "escaped-nul",
            b"{\"builder\": {\"x\": \"a\\u0000b\"}}".to_vec(),
        ),
        ("trailing-garbage", b"{\"debug\": true} x".to_vec()),
        ("two-objects", b"{} {}".to_vec()),
        ("trailing-comma-object", b"{\"debug\": true,}".to_vec()),
        (
            "trailing-comma-array",
            b"{\"builder\": {\"x\": [1,]}}".to_vec(),
        ),
        ("line-comment", b"{\n// x\n\"debug\": true}".to_vec()),
        ("block-comment", b"{/* x */\"debug\": true}".to_vec()),
        ("top-level-array", b"[{\"debug\": true}]".to_vec()),
        ("top-level-string", b"\"debug\"".to_vec()),
        ("number-overflow", b"{\"builder\": {\"x\": 1e400}}".to_vec()),
        (
            "number-negative-overflow",
            b"{\"builder\": {\"x\": -1e400}}".to_vec(),
        ),
        (
            "number-underflow",
            b"{\"builder\": {\"x\": 1e-400}}".to_vec(),
        ),
        (
            "number-huge-integer",
            b"{\"builder\": {\"x\": 123456789012345678901234567890}}".to_vec(),
        ),
        (
            "max-concurrent-downloads-1e400",
            b"{\"max-concurrent-downloads\": 1e400}".to_vec(),
        ),
        (
            "invalid-utf8-in-string",
            b"{\"builder\": {\"x\": \"\xFF\"}}".to_vec(),
        ),
        (
            "invalid-utf8-in-key",
            b"{\"builder\": {\"\xC3\": 1}}".to_vec(),
        ),
        (
            "lone-high-surrogate",
            b"{\"builder\": {\"x\": \"\\ud800\"}}".to_vec(),
        ),
        (
            "lone-low-surrogate-key",
            b"{\"builder\": {\"\\udc00\": 1}}".to_vec(),
        ),
        (
            "surrogate-then-escape",
            b"{\"builder\": {\"x\": \"\\ud800\\u0041\"}}".to_vec(),
        ),
        (
            "lone-surrogate-in-labels",
            b"{\"labels\": [\"a=\\ud800\"]}".to_vec(),
        ),
        (
            "duplicate-top-level",
            b"{\"debug\": true, \"debug\": false}".to_vec(),
        ),
        (
            "duplicate-nested",
            b"{\"builder\": {\"x\": 1, \"\\u0078\": 2}}".to_vec(),
        ),
        ("depth-9999", nested(9_999)),
        ("depth-10000", nested(10_000)),
        ("depth-10001", nested(10_001)),
    ];
    cases.push(("unknown-directive", b"{\"stowage-unknown\": 1}".to_vec()));
    cases
        .into_iter()
        .map(|(n, b)| (format!("generated/{n}"), b))
        .collect()
}

struct Case {
    name: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    agree_ok: usize,
    agree_grammar: usize,
    agree_content: usize,
    documented: Vec<String>,
    failures: Vec<String>,
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn stowage_reads_exactly_what_dockerd_reads() {
    require_engine!();
    let dockerd = stowage_tests::engine_bin("dockerd").expect("dockerd");
    let started = std::time::Instant::now();

    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the vendored JSONTestSuite")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 300, "corpus has {} files", files.len());
    let mut cases = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        cases.push(Case {
            name: format!("builder/{name}"),
            bytes: in_builder(&bytes),
        });
        cases.push(Case {
            name: format!("whole/{name}"),
            bytes,
        });
    }
    cases.extend(
        generated()
            .into_iter()
            .map(|(name, bytes)| Case { name, bytes }),
    );

    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .clamp(2, 8);
    std::thread::scope(|s| {
        for w in 0..workers {
            let (cases, next, tally, dir, dockerd) = (&cases, &next, &tally, dir.path(), &dockerd);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let result = check(case, dockerd, &dir.join(format!("w{w}")));
                let mut t = tally.lock().unwrap();
                t.cases += 1;
                match result {
                    Outcome::Agree(Dockerd::Ok) => t.agree_ok += 1,
                    Outcome::Agree(Dockerd::Grammar) => t.agree_grammar += 1,
                    Outcome::Agree(Dockerd::Content) => t.agree_content += 1,
                    Outcome::Duplicate => t.documented.push(case.name.clone()),
                    Outcome::Disagree(why) => t.failures.push(format!("{}: {why}", case.name)),
                }
            });
        }
    });

    let mut t = tally.into_inner().unwrap();
    t.documented.sort();
    eprintln!(
        "grammar: {} cases ({} corpus files x 2 + {} generated) in {:.1?}: {} agree (dockerd OK {}, \
         both refuse the JSON {}, dockerd refuses the content {}), {} documented duplicate-key \
         refusals, {} disagreements",
        t.cases,
        files.len(),
        t.cases - 2 * files.len(),
        started.elapsed(),
        t.agree_ok + t.agree_grammar + t.agree_content,
        t.agree_ok,
        t.agree_grammar,
        t.agree_content,
        t.documented.len(),
        t.failures.len()
    );
    assert!(
        t.failures.is_empty(),
        "Stowage and dockerd disagree:\n{}",
        t.failures.join("\n")
    );
    let mut expected: Vec<String> = DUPLICATE_KEY_CASES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        t.documented, expected,
        "the documented duplicate-key refusals"
    );
}

enum Outcome {
    Agree(Dockerd),
    Duplicate,
    Disagree(String),
}

fn check(case: &Case, dockerd: &Path, dir: &Path) -> Outcome {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("daemon.json");
    std::fs::write(&file, &case.bytes).unwrap();
    let (verdict, said) = dockerd_verdict(dockerd, &file);
    let stowage = DaemonJson::parse_bytes(&file, &case.bytes);
    match (verdict, &stowage) {
        (_, Err(e)) if e.to_string().contains("duplicate key") && verdict != Dockerd::Grammar => {
            Outcome::Duplicate
        }
        (Dockerd::Grammar, Err(e)) => {
            // The refusal names a position inside the file.
            match e {
                stowage_core::Error::Parse { line, column, .. } if *line >= 1 && *column >= 1 => {
                    Outcome::Agree(verdict)
                }
                other => Outcome::Disagree(format!("refused without a position: {other}")),
            }
        }
        (Dockerd::Grammar, Ok(_)) => {
            Outcome::Disagree(format!("Stowage accepts, dockerd refuses the JSON: {said}"))
        }
        (Dockerd::Ok | Dockerd::Content, Err(e)) => Outcome::Disagree(format!(
            "Stowage refuses ({e}), dockerd {}",
            if verdict == Dockerd::Ok {
                "says OK".to_string()
            } else {
                format!("reads the JSON: {said}")
            }
        )),
        (Dockerd::Content, Ok(_)) => Outcome::Agree(verdict),
        (Dockerd::Ok, Ok(doc)) => {
            // Stowage can edit it, and dockerd takes the edited file.
            let edited =
                match apply_edits(doc, &[Edit::set_feature("containerd-snapshotter", true)]) {
                    Ok(e) => e.doc,
                    Err(e) => return Outcome::Disagree(format!("accepted but not editable: {e}")),
                };
            let out = dir.join("edited.json");
            std::fs::write(&out, edited.bytes()).unwrap();
            match dockerd_verdict(dockerd, &out) {
                (Dockerd::Ok, _) => Outcome::Agree(verdict),
                (_, said) => Outcome::Disagree(format!("dockerd refuses the edited file: {said}")),
            }
        }
    }
}
