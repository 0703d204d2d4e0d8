//! Registries for real: local `docker-registry` instances (plain HTTP on 127.0.0.1) as an
//! insecure registry, a Docker Hub mirror and a registry with a login, pulled from on both stores
//! of a private engine, and the `registry-mirrors` / `manifest-list-auth` probes judged against
//! what the pulls did. Both engine versions (scripts/test.sh's second run takes the 28.5 prefix).

use stowage_tests::registry::LocalRegistry;
use stowage_tests::{
    expected_engine_major, require_engine, require_registry, OutputExt, PrivateDaemon,
};

fn check(d: &PrivateDaemon, args: &[&str]) -> serde_json::Value {
    let out = d
        .stowctl()
        .arg("check")
        .args(args)
        .arg("--json")
        .env("DOCKER_CONFIG", d.docker_config())
        .output()
        .unwrap();
    out.json()
}

fn result<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing: {v:#}"))
}

fn probe<'a>(r: &'a serde_json::Value, role: &str) -> &'a serde_json::Value {
    r["evidence"]["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("no probes: {r:#}"))
        .iter()
        .find(|p| p["role"] == role)
        .unwrap_or_else(|| panic!("no {role} probe: {r:#}"))
}

fn pull(d: &PrivateDaemon, reference: &str) -> Result<(), String> {
    let _ = d.docker(&["rmi", reference]);
    let out = d.docker(&["pull", "-q", reference]);
    if out.status.success() {
        Ok(())
    } else {
        Err(out.stderr_text())
    }
}

#[test]
#[ignore = "needs root, dockerd and docker-registry (private engine and registry); scripts/test.sh runs it"]
fn insecure_registry_pulls_on_both_stores_and_the_hosts_toml_fix_is_probed_again() {
    require_engine!();
    require_registry!();
    let reg = LocalRegistry::start();
    let d = PrivateDaemon::start_with_private_etc_docker(&format!(
        "{{\"insecure-registries\": [\"{}\"]}}\n",
        reg.host
    ));
    let image = reg.push_tiny(&d, "stowage/tiny:1");

    // Classic store: the pull works and the probe proves it with the same pull.
    pull(&d, &image).expect("pull on the classic store");
    let v = check(&d, &["--id", "registry-mirrors", "--probe-image", &image]);
    let r = result(&v, "registry-mirrors");
    assert_eq!(r["status"], "ok", "{r:#}");
    let p = probe(r, "insecure");
    assert_eq!(p["probe"]["outcome"], "found", "{r:#}");
    assert_eq!(p["probe"]["method"], "pull");
    assert_eq!(r["evidence"]["certs_dir"], "/etc/docker/certs.d", "{r:#}");

    // Before the switch, the containerd store cannot be probed: unverified, never ok.
    let v = check(
        &d,
        &[
            "--id",
            "registry-mirrors",
            "--if-switching-to",
            "containerd",
            "--probe-image",
            &image,
        ],
    );
    let r = result(&v, "registry-mirrors");
    assert_eq!(r["status"], "warn", "{r:#}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("unverified for the containerd store"),
        "{r:#}"
    );
    assert_eq!(r["fixes"][0]["id"], "write-hosts-toml", "{r:#}");

    // The switch probes the registries in use before and after: nothing regressed here.
    let switched = d.use_store("containerd").last_json();
    let regs = &switched["registries"];
    assert_eq!(
        regs["before"][0]["registry"],
        reg.host.as_str(),
        "{switched:#}"
    );
    assert_eq!(regs["before"][0]["verdict"], "ok", "{switched:#}");
    assert_eq!(regs["after"][0]["verdict"], "ok", "{switched:#}");
    assert_eq!(regs["regressed"], serde_json::json!([]), "{switched:#}");
    assert!(regs.get("rollback").is_none(), "{switched:#}");
    pull(&d, &image).expect("pull on the containerd store, before the fix");
    let v = check(&d, &["--id", "registry-mirrors", "--probe-image", &image]);
    let r = result(&v, "registry-mirrors");
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(probe(r, "insecure")["probe"]["outcome"], "found", "{r:#}");

    // The fix writes into the certs.d a rootful engine reads (here the test's private
    // /etc/docker), and is followed by the same probe.
    let out = d.stowctl_ok(&[
        "check",
        "fix",
        "registry-mirrors",
        "--probe-image",
        &image,
        "--yes",
        "--json",
    ]);
    let done = out.last_json();
    let file = d
        .etc_docker()
        .join(format!("certs.d/{}/hosts.toml", reg.host));
    assert_eq!(
        done["files"],
        serde_json::json!([format!("/etc/docker/certs.d/{}/hosts.toml", reg.host)]),
        "{done:#}"
    );
    let text = std::fs::read_to_string(&file).expect("hosts.toml in the private /etc/docker");
    assert!(
        text.contains(&format!("[host.\"http://{}\"]", reg.host))
            && text.contains("skip_verify = true"),
        "{text}"
    );
    assert!(
        !std::path::Path::new(&format!("/etc/docker/certs.d/{}", reg.host)).exists(),
        "the real /etc/docker was not written"
    );
    assert_eq!(done["after"]["status"], "ok", "{done:#}");
    assert_eq!(
        done["after"]["evidence"]["hosts_toml_in_place"], true,
        "{done:#}"
    );
    pull(&d, &image).expect("pull on the containerd store, after the fix");
}

#[test]
#[ignore = "needs root, dockerd and docker-registry (private engine and registry); scripts/test.sh runs it"]
fn a_mirror_serves_docker_hub_names_on_both_stores_and_28_reads_its_hosts_toml_from_etc_docker() {
    require_engine!();
    require_registry!();
    let mirror = LocalRegistry::start();
    let d = PrivateDaemon::start_with_private_etc_docker(&format!(
        "{{\"registry-mirrors\": [\"http://{}\"]}}\n",
        mirror.host
    ));
    // Docker Hub is not reachable here: a pull of a Hub name succeeds only through the mirror.
    let name = "stowagetiny";
    mirror.push_tiny(&d, &format!("library/{name}:latest"));
    for store in ["classic", "containerd"] {
        if store == "containerd" {
            d.use_store("containerd");
        }
        pull(&d, name)
            .unwrap_or_else(|e| panic!("pull of {name} through the mirror, {store} store: {e}"));
        let v = check(&d, &["--id", "registry-mirrors", "--probe-image", name]);
        let r = result(&v, "registry-mirrors");
        assert_eq!(r["status"], "ok", "{store}: {r:#}");
        assert_eq!(
            probe(r, "mirror")["probe"]["outcome"],
            "found",
            "{store}: {r:#}"
        );
        assert_eq!(
            probe(r, "docker-hub-through-mirrors")["probe"]["outcome"],
            "found",
            "{store}: {r:#}"
        );
        // Without a Hub image to pull, the mirror is reached but not proven: a warning.
        let v = check(&d, &["--id", "registry-mirrors"]);
        let r = result(&v, "registry-mirrors");
        assert_eq!(r["status"], "warn", "{store}: {r:#}");
        assert!(
            r["summary"].as_str().unwrap().contains("unverified"),
            "{r:#}"
        );
    }

    // The fix writes certs.d/docker.io/hosts.toml; with registry-mirrors then removed from
    // daemon.json, only that file can still send Hub pulls to the mirror.
    d.stowctl_ok(&[
        "check",
        "fix",
        "registry-mirrors",
        "--probe-image",
        name,
        "--yes",
        "--json",
    ]);
    let hub = d.etc_docker().join("certs.d/docker.io/hosts.toml");
    assert!(std::fs::read_to_string(&hub)
        .unwrap()
        .contains(&format!("[host.\"http://{}\"]", mirror.host)));
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&d.config_file).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("registry-mirrors");
    std::fs::write(&d.config_file, config.to_string()).unwrap();
    let mut d = d;
    d.restart().expect("restart without registry-mirrors");
    assert_eq!(d.active_store(), "containerd");
    let through_hosts_toml = pull(&d, name);
    let v = check(
        &d,
        &["--id", "registry-mirrors", "--if-switching-to", "classic"],
    );
    let r = result(&v, "registry-mirrors");
    if expected_engine_major() >= 28 {
        through_hosts_toml.expect("28.5 reads /etc/docker/certs.d/docker.io/hosts.toml");
        // What would stop working after a switch to classic, known before it.
        assert_eq!(r["status"], "warn", "{r:#}");
        assert_eq!(
            r["evidence"]["hosts_toml_registries"],
            serde_json::json!(["docker.io"]),
            "{r:#}"
        );
        assert!(
            r["summary"].as_str().unwrap().contains("stop applying"),
            "{r:#}"
        );
    } else {
        let e = through_hosts_toml.expect_err("26.1 does not read hosts.toml");
        assert!(e.contains("registry-1.docker.io"), "{e}");
        assert_eq!(
            r["status"], "ok",
            "nothing configured, and 26.1 reads no hosts.toml: {r:#}"
        );
    }
    // The classic store ignores hosts.toml on both versions: the Hub name is not found offline.
    d.use_store("classic");
    let e = pull(&d, name).expect_err("the classic store does not read hosts.toml");
    assert!(
        e.contains("registry-1.docker.io") || e.contains("index.docker.io"),
        "{e}"
    );
}

#[test]
#[ignore = "needs root, dockerd and docker-registry (private engine and registry); scripts/test.sh runs it"]
fn the_login_probe_reports_401_without_a_login_and_ok_after_docker_login_on_both_stores() {
    require_engine!();
    require_registry!();
    let reg = LocalRegistry::start_with_auth("alice", "s3cret");
    let d = PrivateDaemon::start();
    let image = reg.push_tiny(&d, "private/tiny:1");
    for store in ["classic", "containerd"] {
        if store == "containerd" {
            d.use_store("containerd");
            d.docker_ok(&["logout", &reg.host]);
        }
        let e = pull(&d, &image).expect_err("no login: the pull is refused");
        assert!(e.contains("no basic auth credentials"), "{store}: {e}");
        let v = check(&d, &["--id", "manifest-list-auth", "--probe-image", &image]);
        let r = result(&v, "manifest-list-auth");
        assert_eq!(r["status"], "warn", "{store}: {r:#}");
        let p = &r["evidence"]["probes"][0];
        assert_eq!(p["anonymous"]["outcome"], "unauthorized", "{store}: {r:#}");
        assert_eq!(p["credentials"]["kind"], "none", "{store}: {r:#}");
        assert_eq!(
            r["fixes"][0]["commands"],
            serde_json::json!([format!("docker login {}", reg.host)]),
            "{r:#}"
        );

        reg.docker_login(&d, "alice", "s3cret");
        pull(&d, &image).unwrap_or_else(|e| panic!("{store}: pull after docker login: {e}"));
        let v = check(&d, &["--id", "manifest-list-auth", "--probe-image", &image]);
        let r = result(&v, "manifest-list-auth");
        assert_eq!(r["status"], "ok", "{store}: {r:#}");
        let p = &r["evidence"]["probes"][0];
        assert_eq!(p["credentials"]["kind"], "stored", "{r:#}");
        assert_eq!(p["with_login"]["outcome"], "found", "{store}: {r:#}");

        // A wrong stored password is told apart from no login at all.
        let good = std::fs::read_to_string(d.docker_config().join("config.json")).unwrap();
        let bad = good.replace(
            &stowage_tests::registry::basic_auth("alice", "s3cret"),
            &stowage_tests::registry::basic_auth("alice", "wrong"),
        );
        assert_ne!(good, bad, "the stored login is in auths: {good}");
        std::fs::write(d.docker_config().join("config.json"), &bad).unwrap();
        let v = check(&d, &["--id", "manifest-list-auth", "--probe-image", &image]);
        let r = result(&v, "manifest-list-auth");
        assert_eq!(r["status"], "fail", "{store}: {r:#}");
        assert!(
            r["summary"]
                .as_str()
                .unwrap()
                .contains("refuses the stored login"),
            "{r:#}"
        );
        std::fs::write(d.docker_config().join("config.json"), &good).unwrap();
    }
}
