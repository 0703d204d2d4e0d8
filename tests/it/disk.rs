//! Disk: `stowctl du` against `docker system df`, reclaiming the store the engine left (both
//! ways, with its refusals), and the space refusal on a small filesystem. Real private engines.

use std::collections::BTreeMap;
use std::path::Path;

use stowage_core::stores::migrate::plan::{carry_bytes, TransferMode};
use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

/// `docker system df`'s sizes (go-units `HumanSizeWithPrecision(n, 4)`: decimal, `%.4g`).
fn docker_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v < 1.0 {
        1
    } else {
        v.log10().floor() as i32 + 1
    };
    let decimals = (4 - digits).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s + units[i]
}

/// `docker system df --format json`: Type → Size.
fn system_df(d: &PrivateDaemon) -> BTreeMap<String, String> {
    d.docker_ok(&["system", "df", "--format", "{{json .}}"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|j| {
            (
                j["Type"].as_str().unwrap().to_string(),
                j["Size"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn du(d: &PrivateDaemon) -> serde_json::Value {
    let out = d.stowctl().args(["du", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    out.json()
}

fn store<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == name)
        .unwrap_or_else(|| panic!("{name} in {v:#}"))
}

fn size_of(v: &serde_json::Value) -> String {
    docker_size(v.as_u64().unwrap_or_else(|| panic!("a number: {v}")))
}

/// References → image IDs of the active store, as `docker images` shows them.
fn image_ids(d: &PrivateDaemon) -> BTreeMap<String, String> {
    d.docker_ok(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(r, id)| (r.to_string(), id.to_string()))
    .collect()
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
}

fn ctr(d: &PrivateDaemon, args: &[&str]) -> String {
    let sock = d.exec_root.join("containerd/containerd.sock");
    let out = stowage_tests::engine_command("ctr")
        .args(["-a", sock.to_str().unwrap(), "-n", "moby"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ctr {args:?}: {}", out.stderr_text());
    out.stdout_text()
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn du_of_the_active_store_is_what_docker_system_df_says_in_both_stores() {
    require_engine!();
    let d = PrivateDaemon::start();
    for store in ["classic", "containerd"] {
        if store == "containerd" {
            d.use_store("containerd");
        }
        d.import_busybox_image(&format!("{store}-box:1"));
        d.import_image(&format!("{store}-app:1"));
        d.docker_ok(&["volume", "create", &format!("{store}-vol")]);
        d.docker_ok(&[
            "run",
            "--network",
            "none",
            "--name",
            &format!("{store}-writer"),
            "-v",
            &format!("{store}-vol:/data"),
            &format!("{store}-box:1"),
            "/bin/sh",
            "-c",
            "echo some bytes > /data/f && echo more > /written",
        ]);
        let df = system_df(&d);
        let v = du(&d);
        let active = store_of_active(&v);
        assert_eq!(active["store"], store);
        assert_eq!(active["source"], "engine");
        let b = &active["breakdown"];
        assert_eq!(size_of(&b["images_bytes"]), df["Images"], "{v:#}");
        assert_eq!(size_of(&b["containers_bytes"]), df["Containers"], "{v:#}");
        assert_eq!(size_of(&b["build_cache_bytes"]), df["Build Cache"], "{v:#}");
        assert_eq!(
            size_of(&v["shared"]["volumes_bytes"]),
            df["Local Volumes"],
            "{v:#}"
        );
        assert!(b["images_bytes"].as_u64().unwrap() > 0);
        assert!(
            b["containers_bytes"].as_u64().unwrap() > 0,
            "the writer wrote a file"
        );
        eprintln!("{store} active: du {b} vs docker system df {df:?}");
    }
    // The hidden classic store is measured from itself: its layers, its container's layer.
    let v = du(&d);
    let classic = store(&v, "classic");
    assert_eq!(classic["source"], "store");
    assert!(
        classic["breakdown"]["images_bytes"].as_u64().unwrap() > 0,
        "{v:#}"
    );
    assert!(
        classic["breakdown"]["containers_bytes"].as_u64().unwrap() > 0,
        "{v:#}"
    );
    assert_eq!(
        classic["breakdown"]["build_cache_bytes"],
        serde_json::Value::Null
    );
    // And the hidden containerd store through containerd's snapshots.
    d.use_store("classic");
    let v = du(&d);
    let c8d = store(&v, "containerd");
    assert_eq!(c8d["source"], "store");
    for k in ["images_bytes", "content_bytes", "containers_bytes"] {
        assert!(c8d["breakdown"][k].as_u64().unwrap() > 0, "{k}: {v:#}");
    }
    let text = d.stowctl().args(["du"]).output().unwrap().stdout_text();
    assert!(text.contains("Shared by both stores: 2 volumes"), "{text}");
    assert!(
        text.contains(
            "The classic store's sizes are the engine's own, as `docker system df` prints them."
        ),
        "{text}"
    );
}

fn store_of_active(v: &serde_json::Value) -> &serde_json::Value {
    v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["active"] == true)
        .unwrap()
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn reclaiming_the_hidden_containerd_store_empties_it_through_containerd_and_keeps_the_classic_one()
{
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("classic-app:1");
    d.import_image("classic-app:2");
    d.use_store("containerd");
    d.import_image("c8d-app:1");
    d.import_image("c8d-app:2");
    let cid = d.docker_ok(&["create", "--name", "c8d-c", "c8d-app:1", "/hello.txt"]);
    let cid = cid.trim().to_string();
    d.use_store("classic");
    let classic_before = image_ids(&d);
    assert_eq!(classic_before.len(), 2, "{classic_before:?}");
    let before = du(&d);
    let c8d_before = store(&before, "containerd")["disk_bytes"].as_u64().unwrap();

    // Refusals write nothing.
    let out = d
        .stowctl()
        .args(["store", "reclaim", "classic", "--yes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stderr_text()
            .contains("the classic store is the one the engine runs"),
        "{}",
        out.stderr_text()
    );
    let out = d
        .stowctl()
        .args(["store", "reclaim", "containerd", "--yes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("holds 1 container (c8d-c)"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(ctr(&d, &["images", "ls", "-q"]).lines().count(), 2);
    assert_eq!(image_ids(&d), classic_before);

    // The plan names everything it deletes.
    let out = d
        .stowctl()
        .args([
            "store",
            "reclaim",
            "containerd",
            "--include-containers",
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let plan = &out.json()["reclaim"];
    assert_eq!(plan["deletions"]["kind"], "containerd");
    assert_eq!(
        plan["deletions"]["images"].as_array().unwrap().len(),
        2,
        "{plan:#}"
    );
    assert_eq!(
        plan["deletions"]["container_leases"],
        serde_json::json!([cid])
    );
    assert_eq!(plan["containers"][0]["name"], "c8d-c");
    let human = d
        .stowctl()
        .args([
            "store",
            "reclaim",
            "containerd",
            "--include-containers",
            "--dry-run",
        ])
        .output()
        .unwrap()
        .stdout_text();
    assert!(
        human
            .contains("switching back to the containerd store afterwards will show an empty store"),
        "{human}"
    );
    assert_eq!(
        ctr(&d, &["images", "ls", "-q"]).lines().count(),
        2,
        "a dry run deletes nothing"
    );

    let start = std::time::Instant::now();
    let out = d
        .stowctl()
        .args([
            "store",
            "reclaim",
            "containerd",
            "--include-containers",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    eprintln!("reclaim took {:?}", start.elapsed());
    let outcome = out.last_json();
    assert_eq!(outcome["removed_images"], 2);
    assert_eq!(outcome["removed_containers"], 1);

    assert_eq!(ctr(&d, &["images", "ls", "-q"]).trim(), "");
    assert!(!ctr(&d, &["leases", "ls", "-q"]).contains(&cid));
    assert_eq!(
        ctr(&d, &["content", "ls", "-q"]).trim(),
        "",
        "garbage collected"
    );
    assert_eq!(
        ctr(&d, &["snapshots", "--snapshotter", "overlayfs", "ls"])
            .lines()
            .count(),
        1,
        "only the header"
    );
    assert!(!d.data_root.join("containers").join(&cid).exists());
    let after = du(&d);
    let c8d = store(&after, "containerd");
    assert_eq!(c8d["images"], 0);
    assert_eq!(c8d["containers"], 0);
    let c8d_after = c8d["disk_bytes"].as_u64().unwrap();
    eprintln!("containerd store on disk: {c8d_before} before, {c8d_after} after");
    assert!(c8d_after < c8d_before, "{c8d_before} -> {c8d_after}");
    assert!(c8d_after < 2 * 1024 * 1024, "near zero: {c8d_after}");
    assert_eq!(
        image_ids(&d),
        classic_before,
        "the active store's images and IDs are unchanged"
    );

    // Switching back shows the empty store that was announced.
    d.use_store("containerd");
    assert!(image_ids(&d).is_empty());
    assert!(d.docker_ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn reclaiming_the_hidden_classic_store_removes_only_its_own_files() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_image("classic-app:1");
    let cid = d.docker_ok(&[
        "create",
        "--name",
        "classic-c",
        "classic-app:1",
        "/hello.txt",
    ]);
    let cid = cid.trim().to_string();
    d.use_store("containerd");
    d.import_image("c8d-app:1");
    let c8d_before = image_ids(&d);
    let stray = d.data_root.join("overlay2/not-a-layer");
    std::fs::create_dir_all(&stray).unwrap();

    // An unreadable store is refused, and nothing is written.
    let repos = d.data_root.join("image/overlay2/repositories.json");
    let good = std::fs::read(&repos).unwrap();
    std::fs::write(&repos, b"{ not json").unwrap();
    let out = d
        .stowctl()
        .args([
            "store",
            "reclaim",
            "classic",
            "--include-containers",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stderr_text()
            .contains("the classic store cannot be read"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(std::fs::read(&repos).unwrap(), b"{ not json");
    assert!(d.data_root.join("containers").join(&cid).exists());
    std::fs::write(&repos, &good).unwrap();

    let out = d
        .stowctl()
        .args([
            "store",
            "reclaim",
            "classic",
            "--include-containers",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let outcome = out.last_json();
    assert_eq!(outcome["removed_images"], 1);
    assert!(
        outcome["left_alone"][0]
            .as_str()
            .unwrap()
            .contains("not-a-layer"),
        "{outcome:#}"
    );
    assert!(!d.data_root.join("image/overlay2").exists());
    assert!(!d.data_root.join("containers").join(&cid).exists());
    assert!(stray.exists(), "an entry no layer names is left alone");
    let entries: Vec<_> = std::fs::read_dir(d.data_root.join("overlay2"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("not-a-layer")]);
    assert_eq!(
        image_ids(&d),
        c8d_before,
        "the active store's images and IDs are unchanged"
    );
    let v = du(&d);
    assert_eq!(store(&v, "classic")["images"], 0);

    std::fs::remove_dir(&stray).unwrap();
    d.use_store("classic");
    assert!(image_ids(&d).is_empty());
    d.import_image("fresh:1");
    assert_eq!(image_ids(&d).len(), 1, "the emptied classic store works");
}

/// A tmpfs mounted on `dir`, lazily unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs on {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_migration_that_does_not_fit_the_receiving_filesystem_is_refused_naming_it() {
    require_engine!();
    let mut d = PrivateDaemon::start();
    d.stop();
    let _ = std::fs::remove_dir_all(&d.data_root);
    let tmpfs = Tmpfs::mount(&d.data_root, "48m");
    d.spawn_and_wait().unwrap();
    // A 20 MB image: its copy leaves less than the 512 MiB reserve a migration keeps by default.
    let big = d.dir().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let noise: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(big.join("blob"), noise).unwrap();
    let tar = d.dir().join("big.tar");
    assert!(std::process::Command::new("tar")
        .args([
            "-C",
            big.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "."
        ])
        .status()
        .unwrap()
        .success());
    d.docker_ok(&["import", tar.to_str().unwrap(), "big:1"]);
    let out = d
        .stowctl()
        .args(["migrate", "big:1", "--to", "containerd", "--dry-run"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", out.stdout_text());
    let err = out.stderr_text();
    assert!(err.contains("not enough free space"), "{err}");
    assert!(
        err.contains(&format!("free on {}", tmpfs.0.display())),
        "{err}"
    );
    assert_eq!(d.active_store(), "classic");

    // A switch says where the target store writes and what carrying the images across needs.
    let settings = d.stowage_home.join("config/settings.toml");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "[migration]\nmin_free_bytes = 1000000\n").unwrap();
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let plan = out.json();
    let space = &plan["plan"]["space"];
    assert_eq!(space["filesystem"], tmpfs.0.to_str().unwrap(), "{plan:#}");
    // The estimate is the migration's own rule for the mode this engine migrates in: streamed
    // (engine 25 and later), the copy only.
    assert_eq!(space["mode"], "stream", "{space}");
    let image_bytes: u64 = d
        .docker_ok(&["image", "inspect", "big:1", "--format", "{{.Size}}"])
        .trim()
        .parse()
        .unwrap();
    let carry = space["carry_bytes"].as_u64().unwrap();
    assert_eq!(
        carry,
        carry_bytes(image_bytes, TransferMode::Stream),
        "{space}"
    );
    assert!(carry < carry_bytes(image_bytes, TransferMode::Archive));
    let finding = |plan: &serde_json::Value, id: &str| {
        plan["plan"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["message"].as_str().unwrap().to_string())
    };
    let free = space["free_bytes"].as_u64().unwrap();
    assert!(free > carry + 1_000_000, "{space}");
    let fits = finding(&plan, "target-filesystem").expect("the copy fits");
    assert!(
        fits.contains("streamed: the copy only, no archive"),
        "{fits}"
    );
    // A reserve that leaves less room than the copy: the plan warns it does not fit.
    let reserve = free - carry + 1_000_000;
    std::fs::write(
        &settings,
        format!("[migration]\nmin_free_bytes = {reserve}\n"),
    )
    .unwrap();
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--dry-run", "--json"])
        .output()
        .unwrap();
    let plan = out.json();
    assert!(
        finding(&plan, "carry-does-not-fit").is_some(),
        "{:#}",
        plan["plan"]["findings"]
    );
    // A switch onto a filesystem below the reserve is refused, and nothing is written.
    std::fs::write(&settings, "[migration]\nmin_free_bytes = 100000000\n").unwrap();
    let before = std::fs::read(&d.config_file).unwrap();
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", out.stdout_text(), out.stderr_text());
    assert!(
        text.contains("less than the 100 MB Stowage keeps free"),
        "{text}"
    );
    assert_eq!(std::fs::read(&d.config_file).unwrap(), before);
    assert_eq!(d.active_store(), "classic");
    drop(d);
}
