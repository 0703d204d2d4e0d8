//! Per-store image lists on a real private daemon, in both modes, matched against `docker
//! images` (active store) and `ctr -n moby images ls` (containerd store); and migration.

use std::collections::BTreeSet;

use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

fn images_json(d: &PrivateDaemon) -> serde_json::Value {
    let out = d
        .stowctl()
        .args(["images", "--store", "all", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    out.json()
}

/// Tagged references of one store in stowctl's listing.
fn refs_of(v: &serde_json::Value, store: &str) -> BTreeSet<String> {
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["store"] == store)
        .flat_map(|i| {
            i["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
        })
        .filter(|r| !r.contains('@'))
        .collect()
}

fn image<'a>(v: &'a serde_json::Value, reference: &str) -> &'a serde_json::Value {
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["references"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == reference)
        })
        .unwrap_or_else(|| panic!("{reference} not listed: {v:#}"))
}

fn summary<'a>(v: &'a serde_json::Value, store: &str) -> &'a serde_json::Value {
    v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == store)
        .unwrap()
}

/// What `docker images` shows for the active store.
fn docker_refs(d: &PrivateDaemon) -> BTreeSet<String> {
    d.docker_ok(&["images", "--format", "{{json .}}"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|j| {
            format!(
                "{}:{}",
                j["Repository"].as_str().unwrap(),
                j["Tag"].as_str().unwrap()
            )
        })
        .collect()
}

/// What `ctr -n moby images ls` shows for the containerd store (familiar names).
fn ctr_refs(d: &PrivateDaemon) -> BTreeSet<String> {
    let sock = d.exec_root.join("containerd/containerd.sock");
    let out = stowage_tests::engine_command("ctr")
        .args([
            "-a",
            sock.to_str().unwrap(),
            "-n",
            "moby",
            "images",
            "ls",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "ctr: {}", out.stderr_text());
    out.stdout_text()
        .lines()
        .filter(|l| !l.starts_with("moby-dangling@"))
        .map(|l| {
            l.trim_start_matches("docker.io/")
                .trim_start_matches("library/")
                .to_string()
        })
        .collect()
}

fn build_multiplatform(d: &PrivateDaemon, tag: &str) {
    let ctx = d.dir().join("build");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello from a FROM scratch build\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();
    d.docker_ok(&[
        "buildx",
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "--load",
        "-t",
        tag,
        ctx.to_str().unwrap(),
    ]);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn both_stores_are_listed_in_both_modes_and_match_the_engines_own_tools() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("classic-app:1");
    d.docker_ok(&[
        "create",
        "--name",
        "classic-c",
        "classic-app:1",
        "/hello.txt",
    ]);
    d.use_store("containerd");
    d.import_image("c8d-app:1");
    build_multiplatform(&d, "multi:1");

    // Containerd store active.
    let v = images_json(&d);
    assert_eq!(
        refs_of(&v, "classic"),
        BTreeSet::from(["classic-app:1".to_string()])
    );
    assert_eq!(refs_of(&v, "containerd"), docker_refs(&d));
    assert_eq!(refs_of(&v, "containerd"), ctr_refs(&d));
    assert_eq!(
        refs_of(&v, "containerd"),
        BTreeSet::from(["c8d-app:1".to_string(), "multi:1".to_string()])
    );
    assert_eq!(
        image(&v, "multi:1")["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(
        image(&v, "classic-app:1")["platforms"],
        serde_json::json!(["linux/amd64"])
    );
    assert_eq!(image(&v, "classic-app:1")["containers"], 1);
    let classic = summary(&v, "classic");
    assert_eq!(classic["active"], false);
    assert_eq!(classic["readable"], true);
    assert_eq!(classic["images"], 1);
    assert_eq!(
        classic["containers"], 1,
        "the classic container is hidden, and counted"
    );
    assert!(classic["bytes"].as_u64().unwrap() > 0);
    assert_eq!(summary(&v, "containerd")["active"], true);

    // Classic store active: the containerd store is read through containerd's API.
    d.use_store("classic");
    let v = images_json(&d);
    assert_eq!(refs_of(&v, "classic"), docker_refs(&d));
    assert_eq!(refs_of(&v, "containerd"), ctr_refs(&d));
    assert_eq!(
        refs_of(&v, "containerd"),
        BTreeSet::from(["c8d-app:1".to_string(), "multi:1".to_string()])
    );
    assert_eq!(
        image(&v, "multi:1")["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(summary(&v, "containerd")["active"], false);
    assert_eq!(summary(&v, "classic")["containers"], 1);

    // The human table names the store of each image and says the hidden store is kept.
    let out = d.stowctl().args(["images"]).output().unwrap();
    let text = out.stdout_text();
    assert!(
        text.lines().any(|l| l.starts_with("containerd")
            && l.contains("multi")
            && l.contains("linux/amd64,linux/arm64")),
        "{text}"
    );
    assert!(
        text.contains("containerd store (hidden: inactive, its images are kept): 2 images"),
        "{text}"
    );
    // --store inactive lists only the hidden store.
    let out = d
        .stowctl()
        .args(["images", "--store", "inactive", "--json"])
        .output()
        .unwrap();
    let only = out.json();
    assert_eq!(only["stores"].as_array().unwrap().len(), 1);
    assert_eq!(only["stores"][0]["store"], "containerd");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_classic_image_migrates_to_containerd_and_back_with_its_tag() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("mover:1");
    let classic_id = d
        .docker_ok(&["image", "inspect", "--format", "{{.Id}}", "mover:1"])
        .trim()
        .to_string();

    let out = d.stowctl_ok(&[
        "migrate",
        "mover:1",
        "--to",
        "containerd",
        "--yes",
        "--json",
    ]);
    let text = out.stdout_text();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["verified"], true, "{last}");
    assert_eq!(last["active_store"], "classic", "it switches back");
    assert_eq!(last["references"][0]["target_configs"][0], classic_id);
    // Temp files are gone; the source is untouched.
    let mig = d.stowage_home.join("data/migrations");
    assert_eq!(std::fs::read_dir(&mig).map(|r| r.count()).unwrap_or(0), 0);
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", "mover:1"])
            .trim(),
        classic_id
    );

    // Verified by the API after switching: the tag is there in the containerd store.
    d.use_store("containerd");
    assert!(docker_refs(&d).contains("mover:1"), "{:?}", docker_refs(&d));
    d.docker_ok(&["tag", "mover:1", "mover:from-c8d"]);
    d.docker_ok(&["rmi", "mover:1"]);
    d.use_store("classic");

    // And back: the containerd image (now only `mover:from-c8d`) goes to the classic store.
    d.stowctl_ok(&[
        "migrate",
        "mover:from-c8d",
        "--to",
        "classic",
        "--yes",
        "--json",
    ]);
    assert!(docker_refs(&d).contains("mover:from-c8d"));
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", "mover:from-c8d"])
            .trim(),
        classic_id,
        "same config digest"
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn refused_migrations_write_nothing() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("stay:1");
    let config_before = std::fs::read_to_string(&d.config_file).unwrap();
    let pid = d.current_pid().unwrap();

    let out = d
        .stowctl()
        .args(["migrate", "no-such:1", "--to", "containerd", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());
    assert!(
        out.stderr_text()
            .contains("no image `no-such:1` in the classic store"),
        "{}",
        out.stderr_text()
    );

    std::fs::create_dir_all(d.stowage_home.join("config")).unwrap();
    std::fs::write(
        d.stowage_home.join("config/settings.toml"),
        "[migration]\nmin_free_bytes = 1000000000000000000\n",
    )
    .unwrap();
    let out = d
        .stowctl()
        .args(["migrate", "stay:1", "--to", "containerd", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("not enough free space"),
        "{}",
        out.stderr_text()
    );

    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        config_before
    );
    assert_eq!(d.current_pid(), Some(pid), "no restart happened");
    assert!(
        !d.stowage_home.join("data/migrations").exists(),
        "no temp dir was made"
    );
    assert!(
        ctr_refs(&d).is_empty(),
        "nothing reached the containerd store"
    );
}

/// Containerd's content store as `ctr content ls -q` lists it, and its leases and active writes.
fn ctr_lines(d: &PrivateDaemon, args: &[&str]) -> Vec<String> {
    let sock = d.exec_root.join("containerd/containerd.sock");
    let out = stowage_tests::engine_command("ctr")
        .args(["-a", sock.to_str().unwrap(), "-n", "moby"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ctr: {}", out.stderr_text());
    out.stdout_text()
        .lines()
        .skip_while(|l| l.starts_with("REF") || l.starts_with("ID") || l.starts_with("DIGEST"))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The last JSON line stowctl printed (the outcome), and the progress lines before it.
fn outcome_and_progress(out: &std::process::Output) -> (serde_json::Value, Vec<serde_json::Value>) {
    let text = out.stdout_text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, progress) = lines.split_last().unwrap();
    (last.clone(), progress.to_vec())
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn classic_images_stream_into_containerd_without_a_restart_or_an_archive_and_run() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_busybox_image("runner:1");
    d.import_image("plain:1");
    d.docker_ok(&["tag", "plain:1", "reg.example:5000/team/plain:2"]);
    let ids: Vec<String> = ["runner:1", "plain:1"]
        .iter()
        .map(|r| {
            d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", r])
                .trim()
                .to_string()
        })
        .collect();
    let pid = d.current_pid().unwrap();

    // The plan says how: streamed, no restart.
    let out = d.stowctl_ok(&[
        "migrate",
        "runner:1",
        "plain:1",
        "reg.example:5000/team/plain:2",
        "--to",
        "containerd",
        "--dry-run",
        "--json",
    ]);
    let plan = out.json();
    assert_eq!(plan["migration"]["mode"], "stream", "{plan}");
    assert_eq!(plan["migration"]["restarts"], 0, "{plan}");

    let out = d.stowctl_ok(&[
        "migrate",
        "runner:1",
        "plain:1",
        "reg.example:5000/team/plain:2",
        "--to",
        "containerd",
        "--yes",
        "--json",
    ]);
    let (last, progress) = outcome_and_progress(&out);
    assert_eq!(last["verified"], true, "{last}");
    assert_eq!(last["active_store"], "classic");
    assert_eq!(d.current_pid(), Some(pid), "no restart happened");
    assert!(
        !d.stowage_home.join("data/migrations").exists(),
        "no archive, no temporary directory"
    );
    assert!(
        progress
            .iter()
            .any(|p| p["progress"]["phase"] == "stream" && p["progress"]["done"].as_u64() > Some(0)),
        "progress in bytes: {progress:?}"
    );
    for (r, id) in last["references"].as_array().unwrap().iter().zip(&ids) {
        assert_eq!(&r["target_configs"][0], id, "{r}");
    }
    assert_eq!(
        ctr_refs(&d),
        BTreeSet::from([
            "runner:1".to_string(),
            "plain:1".to_string(),
            "reg.example:5000/team/plain:2".to_string()
        ])
    );
    assert!(
        ctr_lines(&d, &["leases", "ls"]).is_empty(),
        "the lease is gone"
    );
    // The source is untouched.
    assert!(docker_refs(&d).contains("runner:1"));

    // The one restart of the switch, and the engine runs what was streamed (it unpacks on
    // first use).
    d.use_store("containerd");
    let listed = docker_refs(&d);
    assert!(
        listed.contains("runner:1") && listed.contains("plain:1"),
        "{listed:?}"
    );
    let ran = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "runner:1",
        "/bin/sh",
        "-c",
        "echo streamed-and-ran",
    ]);
    assert_eq!(ran.trim(), "streamed-and-ran");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_cancelled_stream_leaves_nothing_in_containerd_and_the_source_untouched() {
    use std::io::BufRead;
    require_engine!();
    let d = PrivateDaemon::start();
    // ~300 MB of incompressible data, so the stream is still running when cancelled.
    let root = d.dir().join("big-root");
    std::fs::create_dir_all(&root).unwrap();
    let mut data = vec![0u8; 300 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(root.join("blob"), &data).unwrap();
    drop(data);
    let tar = d.dir().join("big.tar");
    assert!(std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    d.docker_ok(&["import", tar.to_str().unwrap(), "big:1"]);
    let id_before = d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", "big:1"]);
    let content_before = ctr_lines(&d, &["content", "ls", "-q"]);

    let mut child = d
        .stowctl()
        .args(["migrate", "big:1", "--to", "containerd", "--yes", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut signalled = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        if !signalled && line.contains(r#""phase":"stream""#) {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            )
            .unwrap();
            signalled = true;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(signalled, "the stream reported bytes");
    assert!(!out.status.success(), "a cancelled migration fails");
    assert!(
        out.stderr_text().contains("migration cancelled"),
        "{}",
        out.stderr_text()
    );
    assert!(ctr_refs(&d).is_empty(), "no image record");
    assert!(ctr_lines(&d, &["leases", "ls"]).is_empty(), "no lease");
    assert!(
        ctr_lines(&d, &["content", "active"]).is_empty(),
        "no write left open"
    );
    assert_eq!(
        ctr_lines(&d, &["content", "ls", "-q"]),
        content_before,
        "no blob left behind"
    );
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", "big:1"]),
        id_before,
        "the source is untouched"
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn containerd_images_stream_into_the_classic_store_without_an_archive_and_run() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.use_store("containerd");
    d.import_busybox_image("c8d-runner:1");
    build_multiplatform(&d, "multi:1");
    d.use_store("classic");
    let pid = d.current_pid().unwrap();

    let out = d.stowctl_ok(&[
        "migrate",
        "c8d-runner:1",
        "multi:1",
        "--to",
        "classic",
        "--yes",
        "--json",
    ]);
    let (last, progress) = outcome_and_progress(&out);
    assert_eq!(last["verified"], true, "{last}");
    assert_eq!(
        d.current_pid(),
        Some(pid),
        "no restart: the classic store ran already"
    );
    assert!(
        !d.stowage_home.join("data/migrations").exists(),
        "no archive"
    );
    assert!(
        progress.iter().any(|p| p["progress"]["phase"] == "stream"),
        "{progress:?}"
    );
    // The multi-platform image arrives as the engine's own platform, with a config digest the
    // source had.
    let multi = last["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reference"] == "multi:1")
        .unwrap();
    assert_eq!(
        multi["source_configs"].as_array().unwrap().len(),
        2,
        "{multi}"
    );
    assert_eq!(
        d.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            "multi:1"
        ])
        .trim(),
        "linux/amd64"
    );
    let ran = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "c8d-runner:1",
        "/bin/sh",
        "-c",
        "echo loaded-and-ran",
    ]);
    assert_eq!(ran.trim(), "loaded-and-ran");
    // The source is untouched.
    assert_eq!(
        ctr_refs(&d),
        BTreeSet::from(["c8d-runner:1".to_string(), "multi:1".to_string()])
    );
}
