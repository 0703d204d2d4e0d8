//! The human rendering of check results (`stowctl check`), kept pure so it is snapshot-tested.

use super::{CheckResult, Status};
use crate::text;

fn tag(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
        Status::Skipped => "skip",
        Status::Error => "ERROR",
    }
}

/// One block per check: status, title, summary, then fixes (commands indented, docs linked).
pub fn human(results: &[CheckResult], target_note: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(note) = target_note {
        out.push_str(note);
        out.push_str("\n\n");
    }
    for r in results {
        let muted = if r.muted { " (muted)" } else { "" };
        out.push_str(&format!("[{:<5}] {}{muted}\n", tag(r.status), r.title));
        out.push_str(&format!("        {}\n", r.summary));
        for f in &r.fixes {
            if f.automatic {
                out.push_str(&format!(
                    "        fix: {} (stowctl check fix {})\n",
                    f.description, r.id
                ));
            } else {
                out.push_str(&format!("        fix: {}\n", f.description));
            }
            for c in &f.commands {
                out.push_str(&format!("          $ {c}\n"));
            }
            if let Some(d) = &f.docs {
                out.push_str(&format!("          see {d}\n"));
            }
        }
    }
    let count = |s: Status| results.iter().filter(|r| r.status == s && !r.muted).count();
    out.push_str(&format!(
        "\n{} ok, {}, {}, {} skipped, {}\n",
        count(Status::Ok),
        text::count(count(Status::Warn) as u64, "warning"),
        text::count(count(Status::Fail) as u64, "failure"),
        count(Status::Skipped),
        text::count(count(Status::Error) as u64, "error")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::Fix;
    use super::*;

    #[test]
    fn human_output_snapshot() {
        let results = vec![
            CheckResult {
                id: "buildx-version".into(),
                title: "Buildx can load multi-platform builds".into(),
                status: Status::Fail,
                summary: "buildx 0.8.2 cannot load multi-platform builds into the containerd image store (needs 0.9.0 or later)".into(),
                evidence: Default::default(),
                fixes: vec![Fix::manual("install-buildx", "Install a current buildx plugin", &["sudo apt-get install docker-buildx"], Some("https://docs.docker.com/build/"))],
                muted: false,
                ms: 3,
            },
            CheckResult {
                id: "registry-mirrors".into(),
                title: "Registry mirrors and insecure registries".into(),
                status: Status::Ok,
                summary: "no registry mirrors or insecure registries are configured".into(),
                evidence: Default::default(),
                fixes: vec![],
                muted: false,
                ms: 0,
            },
            CheckResult {
                id: "hidden-images".into(),
                title: "Images and containers in the other store".into(),
                status: Status::Warn,
                summary: "2 images (3.1 MB) and 1 container in the classic store are hidden while the other store is active.".into(),
                evidence: Default::default(),
                fixes: vec![],
                muted: true,
                ms: 5,
            },
        ];
        let expected = "\
Evaluated for the containerd store (if you switch to it).

[FAIL ] Buildx can load multi-platform builds
        buildx 0.8.2 cannot load multi-platform builds into the containerd image store (needs 0.9.0 or later)
        fix: Install a current buildx plugin
          $ sudo apt-get install docker-buildx
          see https://docs.docker.com/build/
[ok   ] Registry mirrors and insecure registries
        no registry mirrors or insecure registries are configured
[WARN ] Images and containers in the other store (muted)
        2 images (3.1 MB) and 1 container in the classic store are hidden while the other store is active.

1 ok, 0 warnings, 1 failure, 0 skipped, 0 errors
";
        assert_eq!(
            human(
                &results,
                Some("Evaluated for the containerd store (if you switch to it).")
            ),
            expected
        );
    }
}
