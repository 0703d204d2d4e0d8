//! Compose projects across a store switch on a real private engine: `stowctl projects` groups
//! them (and lists standalone containers), `stowctl store use … --bring-projects` migrates their
//! images, switches once and brings them up, with a named volume's data intact; a project whose
//! files are gone is refused before anything changes.

use stowage_tests::compose::{compose_up, shop_with_a_lonely_container, write_project};
use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

fn last_json(out: &std::process::Output) -> serde_json::Value {
    let text = out.stdout_text();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
#[ignore = "needs root, dockerd and docker compose (a private engine); scripts/test.sh runs it"]
fn a_compose_project_comes_back_running_on_the_containerd_store_with_its_volume_data() {
    require_engine!();
    let d = PrivateDaemon::start();
    shop_with_a_lonely_container(&d);

    // Listed per store, grouped.
    let v = d.stowctl_ok(&["projects", "--json"]).json();
    let shop = v["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "shop")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(shop["store"], "classic");
    assert_eq!(shop["services"], serde_json::json!(["web", "worker"]));
    assert_eq!(shop["images"], serde_json::json!(["shop-app:1"]));
    assert_eq!(shop["files_present"], true);
    assert_eq!(shop["running"], 2);
    let lonely = &v["standalone"][0];
    assert_eq!(lonely["name"], "lonely", "{v:#}");
    assert_eq!(lonely["image"], "shop-app:1");
    assert_eq!(lonely["state"], "created");
    assert_eq!(lonely["volumes"], serde_json::json!(["lonelyvol:/x"]));

    // The switch's own plan groups what it hides.
    let sw = d
        .stowctl_ok(&["store", "use", "containerd", "--dry-run", "--json"])
        .json();
    let hidden = &sw["plan"]["hidden_containers"];
    assert_eq!(hidden["projects"][0]["name"], "shop", "{sw:#}");
    assert_eq!(hidden["standalone"][0]["name"], "lonely", "{sw:#}");
    let text = d
        .stowctl_ok(&["store", "use", "containerd", "--dry-run"])
        .stdout_text();
    assert!(
        text.contains("Compose projects left behind: shop (web, worker)"),
        "{text}"
    );

    // The plan: the image streams, the switch is the one restart.
    let plan = d
        .stowctl_ok(&[
            "store",
            "use",
            "containerd",
            "--bring-projects",
            "shop",
            "--dry-run",
            "--json",
        ])
        .json();
    let m = &plan["bring_projects"]["migration"];
    assert_eq!(m["mode"], "stream", "{plan:#}");
    assert_eq!(m["restarts"], 1, "{plan:#}");

    let pid = d.current_pid().unwrap();
    let out = d.stowctl_ok(&[
        "store",
        "use",
        "containerd",
        "--bring-projects",
        "shop",
        "--yes",
        "--json",
    ]);
    let outcome = last_json(&out);
    assert_eq!(outcome["active_store"], "containerd", "{outcome:#}");
    assert_eq!(outcome["projects"][0]["project"], "shop");
    assert_eq!(outcome["projects"][0]["ok"], true, "{outcome:#}");
    assert_eq!(outcome["migration"]["verified"], true);
    // The project's own steps, in order: its image migrates, it is brought up, each service runs.
    let phases: Vec<String> = out
        .stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["project_event"]["project"] == "shop")
        .map(|v| {
            let e = &v["project_event"];
            match e["service"].as_str() {
                Some(s) => format!("{}:{s}", e["phase"].as_str().unwrap()),
                None => e["phase"].as_str().unwrap().to_string(),
            }
        })
        .collect();
    assert_eq!(
        phases,
        [
            "migrating_images",
            "bringing_up",
            "service_running:web",
            "service_running:worker",
            "running"
        ],
        "{}",
        out.stdout_text()
    );
    assert_ne!(
        d.current_pid(),
        Some(pid),
        "the switch restarted the engine"
    );
    assert_eq!(d.active_store(), "containerd");

    // Running on the containerd store, the volume's file intact.
    stowage_tests::compose::assert_shop_running(&d);
    assert_eq!(
        d.docker_ok(&[
            "exec",
            "shop-web-1",
            "/bin/busybox",
            "cat",
            "/data/kept.txt"
        ])
        .trim(),
        "precious"
    );

    // The standalone container stayed in the classic store.
    let v = d.stowctl_ok(&["projects", "--json"]).json();
    assert!(
        v["standalone"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "lonely" && c["store"] == "classic"),
        "{v:#}"
    );
}

#[test]
#[ignore = "needs root, dockerd and docker compose (a private engine); scripts/test.sh runs it"]
fn a_project_whose_files_are_gone_is_refused_and_nothing_changes() {
    require_engine!();
    let d = PrivateDaemon::start();
    d.import_busybox_image("gone-app:1");
    let dir = d.dir().join("gone");
    let file = write_project(&dir, "gone-app:1");
    compose_up(&d, "gone", &file);
    std::fs::remove_dir_all(&dir).unwrap();
    let config_before = std::fs::read_to_string(&d.config_file).unwrap();
    let pid = d.current_pid().unwrap();

    let out = d
        .stowctl()
        .args([
            "store",
            "use",
            "containerd",
            "--bring-projects",
            "all",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("the compose files of `gone`")
            && out.stderr_text().contains("are gone"),
        "{}",
        out.stderr_text()
    );
    let out = d
        .stowctl()
        .args([
            "store",
            "use",
            "containerd",
            "--bring-projects",
            "nope",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());
    assert!(
        out.stderr_text()
            .contains("no compose project `nope` in the classic store"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        config_before
    );
    assert_eq!(d.current_pid(), Some(pid), "no restart happened");
    assert_eq!(d.active_store(), "classic");
}
