//! The human rendering of check results (`stowctl check`), kept pure so it is snapshot-tested.

use super::{CheckResult, Status};

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
    out.push_str(&format!("\n{}\n", super::Tally::of(results).sentence()));
    out
}

#[cfg(test)]
mod tests {
    use super::super::Fix;
    use super::*;

    #[test]
    fn the_tally_counts_every_check_once_and_the_fold_agrees() {
        use super::super::runner::tests::r;
        let mut results = vec![r(Status::Warn, false), r(Status::Fail, true)];
        results.extend((0..13).map(|_| r(Status::Ok, false)));
        results.extend((0..2).map(|_| r(Status::Skipped, false)));
        let t = super::super::Tally::of(&results);
        assert_eq!(t.total(), results.len());
        assert_eq!(
            t.sentence(),
            "0 problems, 1 warning, 13 OK, 2 not applicable, 1 muted"
        );
        assert_eq!(
            t.passed_heading().as_deref(),
            Some("13 passed, 2 not applicable")
        );
        let none = super::super::Tally::of(&[r(Status::Error, false)]);
        assert_eq!(
            none.sentence(),
            "0 problems, 0 warnings, 0 OK, 0 not applicable, 1 could not be checked"
        );
        assert_eq!(none.passed_heading(), None);
    }

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

1 problem, 0 warnings, 1 OK, 0 not applicable, 1 muted
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
