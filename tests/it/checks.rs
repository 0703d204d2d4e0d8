//! Known-issue checks on real private daemons, fixes through the switch path, mutes, and the
//! terminal wizard.

use std::os::unix::fs::PermissionsExt;

use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

fn check(d: &PrivateDaemon, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = d
        .stowctl()
        .arg("check")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let code = out.status.code();
    (code, out.json())
}

fn result<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing: {v:#}"))
}

fn fake_buildx(d: &PrivateDaemon, name: &str, output: &str) -> String {
    let p = d.dir().join(name);
    std::fs::write(
        &p,
        format!("#!/bin/sh\n[ \"$1\" = version ] && echo '{output}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn buildx_versions_in_every_real_shape() {
    require_engine!();
    let d = PrivateDaemon::start();
    let cases = [
        (
            "upstream",
            "github.com/docker/buildx v0.13.1 788433953af10f2a698f5c07611dddce2e08c7a0",
            "ok",
            "0.13.1",
        ),
        (
            "debian",
            "github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3",
            "ok",
            "0.13.1",
        ),
        (
            "desktop",
            "github.com/docker/buildx v0.14.0-desktop.1 3f1b1b1",
            "ok",
            "0.14.0",
        ),
        (
            "dev-old",
            "github.com/docker/buildx v0.8.2-12-g1a2b3c4.m 1a2b3c4.m",
            "fail",
            "0.8.2",
        ),
    ];
    for (name, output, status, version) in cases {
        let plugin = fake_buildx(&d, name, output);
        let (code, v) = check(
            &d,
            &[
                "--id",
                "buildx-version",
                "--if-switching-to",
                "containerd",
                "--buildx",
                &plugin,
            ],
        );
        let r = result(&v, "buildx-version");
        assert_eq!(r["status"], status, "{name}: {r:#}");
        assert_eq!(r["evidence"]["version"], version, "{name}");
        assert_eq!(r["evidence"]["plugin"], plugin);
        assert_eq!(code, Some(if status == "ok" { 0 } else { 2 }), "{name}");
        if status == "fail" {
            assert_eq!(r["fixes"][0]["id"], "install-buildx");
            assert_eq!(r["fixes"][0]["automatic"], false);
        }
    }
    // STOWAGE_BUILDX works too, and an old buildx only matters for the containerd store.
    let plugin = fake_buildx(&d, "env-old", "github.com/docker/buildx v0.8.0 abc");
    let out = d
        .stowctl()
        .args(["check", "--id", "buildx-version", "--json"])
        .env("STOWAGE_BUILDX", &plugin)
        .output()
        .unwrap();
    assert_eq!(
        result(&out.json(), "buildx-version")["status"],
        "ok",
        "classic store: an old buildx is fine"
    );
    // No plugin at all.
    let (_, v) = check(
        &d,
        &[
            "--id",
            "buildx-version",
            "--if-switching-to",
            "containerd",
            "--buildx",
            "/nonexistent/docker-buildx",
        ],
    );
    assert_eq!(result(&v, "buildx-version")["status"], "warn");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn kind_like_node_containers_block_a_switch() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_busybox_image("node:test");
    d.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "demo-control-plane",
        "--label",
        "io.x-k8s.kind.cluster=demo",
        "node:test",
        "/bin/sh",
        "-c",
        "sleep 600",
    ]);
    let (code, v) = check(
        &d,
        &[
            "--id",
            "kubernetes-conflict",
            "--if-switching-to",
            "containerd",
        ],
    );
    let r = result(&v, "kubernetes-conflict");
    assert_eq!(r["status"], "fail", "{r:#}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("kind cluster `demo` (demo-control-plane)"),
        "{r:#}"
    );
    assert_eq!(code, Some(2));
    let (code, v) = check(&d, &["--id", "kubernetes-conflict"]);
    assert_eq!(result(&v, "kubernetes-conflict")["status"], "warn");
    assert_eq!(code, Some(1));
    d.docker_ok(&["rm", "-f", "demo-control-plane"]);
    let (code, v) = check(
        &d,
        &[
            "--id",
            "kubernetes-conflict",
            "--if-switching-to",
            "containerd",
        ],
    );
    assert_eq!(result(&v, "kubernetes-conflict")["status"], "ok");
    assert_eq!(code, Some(0));
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn registry_mirrors_fix_writes_hosts_toml_after_a_preview() {
    require_engine!();
    // A rootful engine reads /etc/docker/certs.d: the daemon and stowctl run with a private one.
    let d = PrivateDaemon::start_with_private_etc_docker(
        "{\"registry-mirrors\": [\"https://mirror.example.com\"], \"insecure-registries\": [\"registry.lan:5000\"]}\n",
    );
    let (_, v) = check(
        &d,
        &[
            "--id",
            "registry-mirrors",
            "--if-switching-to",
            "containerd",
        ],
    );
    let r = result(&v, "registry-mirrors");
    // Probed now, on the classic store: neither host exists here, so the pulls fail already
    // (the engine's own errors are the evidence), and the containerd store is unverified.
    assert_eq!(r["status"], "fail", "{r:#}");
    let summary = r["summary"].as_str().unwrap();
    assert!(
        summary.contains("already failing on the classic store")
            && summary.contains("unverified for the containerd store"),
        "{r:#}"
    );
    for p in r["evidence"]["probes"].as_array().unwrap() {
        assert_eq!(p["probe"]["outcome"], "name_not_resolved", "{r:#}");
        assert!(
            p["probe"]["error"]
                .as_str()
                .unwrap()
                .contains("no such host")
                || p["probe"]["error"].as_str().unwrap().contains("dial tcp"),
            "{r:#}"
        );
    }
    assert_eq!(r["evidence"]["hosts_toml_in_place"], false, "{r:#}");
    // A hosts.toml fixes nothing for hosts that do not resolve: not offered; what does fix it is,
    // in the summary's words (the CLI adds the engine's own error to the summary).
    assert_eq!(r["fixes"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["fixes"][0]["id"], "registry-address", "{r:#}");
    assert_eq!(r["fixes"][0]["automatic"], false);
    let what = r["fixes"][0]["description"].as_str().unwrap();
    assert!(
        what.contains("mirror.example.com: the name mirror.example.com does not resolve (DNS): correct the address in daemon.json")
            && what.contains("registry.lan:5000: the name registry.lan does not resolve"),
        "{what}"
    );
    assert!(summary.contains("(the engine said: "), "{summary}");

    // Asked for by name, the CLI still writes the files (and the probe says it did not help).
    let out = d
        .stowctl()
        .args([
            "check",
            "fix",
            "registry-mirrors",
            "--if-switching-to",
            "containerd",
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let preview = &out.json()["fix"];
    assert!(
        preview["diff"]
            .as_str()
            .unwrap()
            .contains("+[host.\"https://mirror.example.com\"]"),
        "{preview:#}"
    );
    let certs = d.etc_docker().join("certs.d");
    assert!(!certs.exists(), "the preview wrote nothing");

    let out = d
        .stowctl()
        .args([
            "check",
            "fix",
            "registry-mirrors",
            "--if-switching-to",
            "containerd",
            "--yes",
        ])
        .output()
        .unwrap();
    // The files are written, and the same probe follows: neither host exists, so it still
    // fails, the output says so and the exit code is a failure's.
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr_text());
    let text = out.stdout_text();
    assert!(
        text.contains("Wrote /etc/docker/certs.d/docker.io/hosts.toml")
            && text.contains("Probed again: ")
            && text.contains("already failing on the classic store")
            && text.trim_end().ends_with("(fail)"),
        "{text}"
    );
    let hub = std::fs::read_to_string(certs.join("docker.io/hosts.toml")).unwrap();
    assert!(
        hub.contains("server = \"https://registry-1.docker.io\""),
        "{hub}"
    );
    assert!(
        hub.contains("[host.\"https://mirror.example.com\"]"),
        "{hub}"
    );
    let lan = std::fs::read_to_string(certs.join("registry.lan:5000/hosts.toml")).unwrap();
    assert!(
        lan.contains("[host.\"http://registry.lan:5000\"]") && lan.contains("skip_verify = true"),
        "{lan}"
    );
    // Once the files are in place, the check says so and offers the fix no more.
    let (_, v) = check(
        &d,
        &[
            "--id",
            "registry-mirrors",
            "--if-switching-to",
            "containerd",
        ],
    );
    let r = result(&v, "registry-mirrors");
    assert_eq!(r["evidence"]["hosts_toml_in_place"], true, "{r:#}");
    assert_eq!(r["evidence"]["certs_dir"], "/etc/docker/certs.d", "{r:#}");
    assert!(
        !r["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "write-hosts-toml"),
        "{r:#}"
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn flag_and_file_conflict_is_found_and_fixed_through_the_switch_path() {
    require_engine!();
    let d = PrivateDaemon::start();
    // An external edit that dockerd would refuse at its next start: --iptables=false is a flag.
    std::fs::write(
        &d.config_file,
        "{\n  \"iptables\": false,\n  \"debug\": false\n}\n",
    )
    .unwrap();
    let (code, v) = check(&d, &["--id", "flag-and-file-conflict"]);
    let r = result(&v, "flag-and-file-conflict");
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(r["evidence"]["keys"], serde_json::json!(["iptables"]));
    assert_eq!(code, Some(2));

    let out = d.stowctl_ok(&["check", "fix", "flag-and-file-conflict", "--yes", "--json"]);
    let last: serde_json::Value = out.last_json();
    assert_eq!(last["outcome"], "applied", "{last}");
    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        "{\n  \"debug\": false\n}\n"
    );
    assert!(d.ping(), "the engine came back");
    let (code, _) = check(&d, &["--id", "flag-and-file-conflict"]);
    assert_eq!(code, Some(0));
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn storage_driver_fix_on_the_running_containerd_store() {
    require_engine!();
    let d = PrivateDaemon::start_with_config("{\n  \"features\": {\"containerd-snapshotter\": true},\n  \"storage-driver\": \"overlay2\"\n}\n");
    let (_, v) = check(&d, &["--id", "storage-driver-conflict"]);
    let r = result(&v, "storage-driver-conflict");
    assert_eq!(
        r["status"], "warn",
        "26.x accepts the name but 29+ would not: {r:#}"
    );
    assert_eq!(r["fixes"][0]["automatic"], true);
    d.stowctl_ok(&["check", "fix", "storage-driver-conflict", "--yes", "--json"]);
    let now: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&d.config_file).unwrap()).unwrap();
    assert_eq!(now["storage-driver"], "overlayfs");
    let (code, v) = check(&d, &["--id", "storage-driver-conflict"]);
    assert_eq!(result(&v, "storage-driver-conflict")["status"], "ok");
    assert_eq!(code, Some(0));
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn config_hidden_store_and_live_probes() {
    require_engine!();
    let d = PrivateDaemon::start();
    let (code, v) = check(&d, &[]);
    // A fresh engine on the classic store, nothing configured: every check that runs by default
    // has its verdict, and the two about the containerd store do not apply.
    let verdicts: Vec<(String, String)> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = stowage_core::checks::CHECKS
        .iter()
        .filter(|c| !c.opt_in)
        .map(|c| {
            let id = c.id;
            let status = match id {
                "manifest-list-auth" | "arm-platform-digest" | "snapshotter-available" => "skipped",
                _ => "ok",
            };
            (id.to_string(), status.to_string())
        })
        .collect();
    assert_eq!(verdicts, want, "{v:#}");
    assert_eq!(result(&v, "reference-filter")["evidence"]["probed"], true);
    assert_eq!(code, Some(0), "all ok: {v:#}");

    // Images in the store a switch would hide are counted.
    d.import_image("keep-me:1");
    let (_, v) = check(
        &d,
        &["--id", "hidden-images", "--if-switching-to", "containerd"],
    );
    let r = result(&v, "hidden-images");
    assert_eq!(r["status"], "warn");
    assert_eq!(r["evidence"]["images"], 1);
    assert_eq!(r["evidence"]["store"], "classic");
    assert_eq!(r["evidence"]["examples"], serde_json::json!(["keep-me:1"]));
    // The fix is the app's Migrate, with the CLI's lines for the terminal.
    assert_eq!(
        r["fixes"][0]["action"],
        serde_json::json!({"kind": "migrate", "from": "classic", "to": "containerd"}),
        "{r:#}"
    );
    assert!(r["fixes"][0]["commands"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(
            "stowctl migrate keep-me:1 --to containerd"
        )));

    // A broken daemon.json is a failure with its position; dockerd's own objection too.
    std::fs::write(&d.config_file, "{\n  \"debug\": true,\n}\n").unwrap();
    let (code, v) = check(&d, &["--id", "daemon-json-valid"]);
    let r = result(&v, "daemon-json-valid");
    assert_eq!(r["status"], "fail");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("{}:3:1", d.config_file.display())),
        "{r:#}"
    );
    assert_eq!(code, Some(2));
    std::fs::write(&d.config_file, "{\"log-level\": \"chatty\"}\n").unwrap();
    let (_, v) = check(&d, &["--id", "daemon-json-valid"]);
    assert!(result(&v, "daemon-json-valid")["summary"]
        .as_str()
        .unwrap()
        .contains("chatty"));

    // Muting takes a check out of the exit code.
    let out = d
        .stowctl()
        .args(["check", "mute", "daemon-json-valid"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let (code, v) = check(&d, &["--id", "daemon-json-valid"]);
    assert_eq!(result(&v, "daemon-json-valid")["muted"], true);
    assert_eq!(code, Some(0));
    d.stowctl()
        .args(["check", "unmute", "daemon-json-valid"])
        .output()
        .unwrap();
    let (code, _) = check(&d, &["--id", "daemon-json-valid"]);
    assert_eq!(code, Some(2));
    std::fs::write(&d.config_file, "{}\n").unwrap();

    // Once the engine stops, nothing answers at its address and no dockerd here serves it: the
    // checks are not run against a guess (exit 69, the engine named).
    let mut d = d;
    d.stop();
    let (code, v) = check(
        &d,
        &["--id", "containerd-reachable", "--id", "engine-version"],
    );
    assert_eq!(code, Some(69), "{v:#}");
    assert_eq!(v["error"]["code"], "engine_unreachable", "{v:#}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&d.host())),
        "{v:#}"
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn multiplatform_selftest_passes_on_containerd_and_explains_classic() {
    require_engine!();
    let d = PrivateDaemon::start();
    let (code, v) = check(&d, &["--id", "multiplatform-selftest"]);
    let r = result(&v, "multiplatform-selftest");
    assert_eq!(r["status"], "warn", "{r:#}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("as expected, the classic store cannot load"),
        "{r:#}"
    );
    assert_eq!(code, Some(1));
    d.use_store("containerd");
    let (code, v) = check(&d, &["--id", "multiplatform-selftest"]);
    assert_eq!(
        result(&v, "multiplatform-selftest")["status"],
        "ok",
        "{v:#}"
    );
    assert_eq!(code, Some(0));
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn the_terminal_wizard_switches_and_migrates_what_the_user_picks() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("wanted:1");
    d.import_image("left-behind:1");
    // Enter (continue), "o" (containerd), "wanted:1" (migrate it).
    let mut child = d
        .stowctl()
        .arg("wizard")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"\no\nwanted:1\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let text = out.stdout_text();
    assert!(
        text.contains("Switching to the containerd store would hide 2 images"),
        "{text}"
    );
    // The switch's plan before the images are offered, as `store use` prints it.
    assert!(
        text.contains("The switch to the containerd store:")
            && text.contains("No containers are running: none will stop."),
        "{text}"
    );
    // The copy is the switch: one outcome, in the core's sentence, said once.
    assert!(
        text.contains("Copied wanted:1 to the containerd store and verified the copies. The engine runs the containerd store."),
        "{text}"
    );
    assert!(!text.contains("Nothing to change"), "{text}");
    let st = d
        .stowctl()
        .args(["status", "--json"])
        .output()
        .unwrap()
        .json();
    assert_eq!(st["active_store"], "containerd");
    let tags = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(tags.trim(), "wanted:1");
    let settings = std::fs::read_to_string(d.stowage_home.join("config/settings.toml")).unwrap();
    assert!(settings.contains("first_run_done = true"), "{settings}");
    assert!(
        !d.stowage_home.join("state/wizard.json").exists(),
        "finished wizards are not resumed"
    );
}
