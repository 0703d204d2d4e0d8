//! An engine on another host, on screen: two systemd rigs with sshd and the packaged
//! docker.service (tests/src/ssh_hosts.rs), named by docker contexts and reached by the app with
//! the real OpenSSH client. The engine chooser lists the contexts; choosing `web1` shows its
//! engine's version and store; its Features page turns the containerd store on with Apply &
//! Restart, its progress and the core's sentence; its Images page shows both stores; the Hosts
//! page lists both hosts with their stores, a read there is cancelled, and the same switch runs
//! on every host from there. A change the window stops waiting for goes on there to its end.

use stowage_tests::ssh_hosts::SshHosts;
use stowage_tests::{require_ssh_hosts, OutputExt};

use super::*;

/// The store host `i`'s engine runs, as its own docker CLI says.
fn store_of(hosts: &SshHosts, i: usize) -> &'static str {
    let status = hosts
        .rig(i)
        .docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    if status.contains("io.containerd.snapshotter") {
        "containerd"
    } else {
        "classic"
    }
}

/// Makes host `i`'s docker.service take a few seconds more to start (a drop-in with a sleep
/// before it starts, then `daemon-reload`).
fn slow_start(hosts: &SshHosts, i: usize) {
    let rig = hosts.rig(i);
    rig.write_file(
        "/etc/systemd/system/docker.service.d/60-stowage-e2e-slow.conf",
        "[Service]\nExecStartPre=/bin/sleep 4\n",
    );
    let out = rig.systemctl(&["daemon-reload"]);
    assert!(out.status.success(), "daemon-reload: {}", out.stderr_text());
}

/// A JS expression: the text a person reads in `css` (empty when it is not there).
fn text_of(css: &str) -> String {
    format!("(document.querySelector({})?.innerText ?? '')", json!(css))
}

#[test]
#[ignore = "needs a display, tauri-driver, root, systemd-nspawn and OpenSSH; scripts/test.sh runs it under Xvfb"]
fn the_app_shows_and_switches_an_engine_of_another_host_over_ssh() {
    require_e2e!();
    require_ssh_hosts!();
    let _turn = one_at_a_time();
    let started = Instant::now();
    let hosts = SshHosts::boot(2);
    // This machine's engine (the one the app starts on), and the user's docker contexts.
    let d = PrivateDaemon::start();
    let docker_config = d.dir().join("app-docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    for alias in hosts.aliases() {
        let host = format!("host=ssh://root@{alias}");
        let out = context(
            &hosts,
            &docker_config,
            &["create", alias, "--docker", &host],
        );
        assert!(out.status.success(), "{}", out.stderr_text());
    }
    // A host whose ssh connects to nothing that answers (its read waits until cancelled).
    let mut ssh_config = std::fs::read_to_string(hosts.ssh_config_path()).unwrap();
    ssh_config
        .push_str("\nHost slow\n  User root\n  ProxyCommand /bin/sleep 120\n  BatchMode yes\n");
    std::fs::write(hosts.ssh_config_path(), ssh_config).unwrap();
    let config = d.stowage_home.join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "first_run_done = true\n").unwrap();
    let version = hosts
        .rig(0)
        .docker_ok(&["version", "--format", "{{.Server.Version}}"])
        .trim()
        .to_string();
    let user_home = d.dir().join("home");
    std::fs::create_dir_all(&user_home).unwrap();
    let (home, host, user_home_s, docker_config_s) = (
        d.stowage_home.display().to_string(),
        d.host(),
        user_home.display().to_string(),
        docker_config.display().to_string(),
    );
    // The fleet's `ssh` wrapper first on PATH: OpenSSH reads ~ from passwd, not $HOME.
    let path = hosts.env_path().to_string_lossy().into_owned();
    let driver = TauriDriver::start_with(
        |program| d.command(program),
        &[
            ("STOWAGE_HOME", home.as_str()),
            ("HOME", user_home_s.as_str()),
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_CONFIG", docker_config_s.as_str()),
            ("PATH", path.as_str()),
            ("RUST_LOG", "info,stowage=debug,stowage_core=debug"),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ],
        &d.dir().join("tauri-driver.log"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let app = App::start(&driver, &[]).await?;
        let result = walk(&app, &hosts, &docker_config, &version, &host).await;
        if result.is_err() && app.shot("failure-remote").await.is_ok() {
            eprintln!(
                "e2e: screenshot of the failure: {}",
                app.shots.join("failure-remote.png").display()
            );
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), app.c.close()).await;
        result
    });
    e2e::wait_for_exit(
        &e2e::app_bin(),
        &format!("STOWAGE_HOME={home}"),
        Duration::from_secs(10),
    );
    // The app's shared ssh connections (ControlPersist) would outlive it by 30 s: ended here.
    stowage_tests::ssh_hosts::stop_ssh_masters(&d.stowage_home.join("state"));
    if let Err(e) = result {
        let log = std::fs::read_to_string(&driver.log_file).unwrap_or_default();
        let _ = std::fs::write(
            e2e::repo_root().join("target/e2e-screenshots/failure-remote.log"),
            &log,
        );
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{e}\n--- app and driver log (last lines) ---\n{}\n--- web1's docker.service ---\n{}",
            tail.join("\n"),
            hosts.rig(0).journal("docker.service", 20)
        );
    }
    eprintln!(
        "e2e: remote engine walk passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `docker context ARGS` in the app's docker config.
fn context(hosts: &SshHosts, docker_config: &Path, args: &[&str]) -> std::process::Output {
    hosts
        .command("docker")
        .env("DOCKER_CONFIG", docker_config)
        .arg("context")
        .args(args)
        .output()
        .expect("docker context")
}

async fn walk(
    app: &App,
    hosts: &SshHosts,
    docker_config: &Path,
    version: &str,
    local: &str,
) -> Result {
    app.until(
        "document.querySelector('#engine-chip')?.getAttribute('aria-busy') === 'false'",
        Duration::from_secs(30),
        "this machine's engine in the chip",
    )
    .await?;

    // The chooser lists the docker contexts; web1 is chosen.
    app.open("general").await?;
    app.until(
        &visible("#context-web1"),
        Duration::from_secs(20),
        "the docker contexts in the engine chooser",
    )
    .await?;
    let contexts = app.text("#general-contexts").await?;
    for want in [
        "Docker contexts",
        "web1",
        "ssh://root@web1",
        "web2",
        "another host",
    ] {
        assert!(contexts.contains(want), "{want:?} in: {contexts}");
    }
    app.audit("General with docker contexts").await?;
    app.click("#context-web1").await?;
    app.until(
        &format!(
            "{}.includes('web1') && {}.includes('classic store')",
            text_of("#engine-chip"),
            text_of("#engine-chip")
        ),
        Duration::from_secs(60),
        "web1's engine in the chip",
    )
    .await?;
    let saved = app.text("#general-saved").await?;
    assert!(saved.contains("engine of web1"), "{saved}");

    // Its status, as the stowctl there says it.
    app.open("engine").await?;
    app.until(
        &visible("#engine-version"),
        Duration::from_secs(60),
        "web1's engine status",
    )
    .await?;
    let shown = app.text("#engine-version").await?;
    assert!(
        shown.contains(version),
        "web1 runs Docker {version}; the page says {shown}"
    );
    let store = app.text("#engine-active-store").await?;
    assert!(store.starts_with("classic"), "{store}");
    let on = app.text("#engine-remote").await?;
    assert!(
        on.contains("web1") && on.contains("ssh://root@web1"),
        "{on}"
    );
    assert!(
        !app.shown("#engine-restart").await?,
        "no Restart for another host's engine"
    );
    app.shot("remote-engine").await?;
    app.audit("Engine of web1").await?;

    // Features: the containerd store on, with Apply & Restart, its progress and its sentence.
    app.open("features").await?;
    app.until(
        &visible(FEATURE),
        Duration::from_secs(60),
        "web1's features",
    )
    .await?;
    let engine = app.text("#features-engine").await?;
    assert!(
        engine.starts_with("web1:") && engine.contains("classic image store"),
        "{engine}"
    );
    app.click(FEATURE).await?;
    app.until(
        &visible("#plan-apply"),
        Duration::from_secs(60),
        "web1's plan",
    )
    .await?;
    let summary = app.text("#plan-summary").await?;
    assert!(
        summary.contains("Turn on the containerd image store."),
        "{summary}"
    );
    assert_eq!(app.text("#plan-apply").await?, "Apply & Restart");
    app.click("#plan-apply").await?;
    app.until(
        &visible("#change-stop-waiting"),
        Duration::from_secs(20),
        "the remote change's progress",
    )
    .await?;
    let wait = app.text("#change-remote-wait").await?;
    assert!(
        wait.contains("runs on web1 and is not stopped half-way"),
        "{wait}"
    );
    app.until(
        "document.querySelectorAll('#change-stages li[data-state=finished]').length >= 1",
        Duration::from_secs(120),
        "a stage of web1's switch ticked",
    )
    .await?;
    app.until(
        "!!document.querySelector('#change-outcome[data-outcome]')",
        Duration::from_secs(300),
        "the outcome of web1's switch",
    )
    .await?;
    let outcome = app.text("#change-outcome").await?;
    assert!(
        outcome.contains("Applied")
            && outcome.contains("Done: the engine runs the containerd image store."),
        "{outcome}"
    );
    assert!(!app.shown("#change-stop-waiting").await?);
    assert_eq!(store_of(hosts, 0), "containerd", "web1's own docker info");
    assert_eq!(store_of(hosts, 1), "classic", "web2 untouched");
    app.until(
        &format!(
            "{}.includes('web1') && {}.includes('containerd store')",
            text_of("#engine-chip"),
            text_of("#engine-chip")
        ),
        Duration::from_secs(60),
        "the chip following web1's switch",
    )
    .await?;
    app.shot("remote-features-applied").await?;

    // Its images: both stores, the containerd one active now; migrating is this machine's.
    app.open("images").await?;
    app.until(
        &visible("#store-containerd-state"),
        Duration::from_secs(90),
        "web1's stores",
    )
    .await?;
    assert_eq!(app.text("#store-containerd-state").await?, "Active");
    assert_eq!(app.text("#store-classic-state").await?, "Hidden, not lost");
    let note = app.text("#images-selection").await?;
    assert!(note.contains("web1's images"), "{note}");
    app.audit("Images of web1").await?;

    // Hosts: a read cancelled on screen (a host whose ssh never answers keeps it waiting),
    // then both hosts with their store.
    let slow = context(
        hosts,
        docker_config,
        &["create", "slow", "--docker", "host=ssh://root@slow"],
    );
    assert!(slow.status.success(), "{}", slow.stderr_text());
    app.click("a[data-page=\"hosts\"]").await?;
    app.until(
        &visible("#hosts-busy-cancel"),
        Duration::from_secs(20),
        "the hosts being asked",
    )
    .await?;
    app.click("#hosts-busy-cancel").await?;
    app.until(
        &format!(
            "{}.includes('Cancelled: Stowage stopped asking the hosts.')",
            text_of("#hosts")
        ),
        Duration::from_secs(20),
        "the cancelled read said on screen",
    )
    .await?;
    let gone = context(hosts, docker_config, &["rm", "slow"]);
    assert!(gone.status.success(), "{}", gone.stderr_text());
    app.click("#hosts .cancelled button").await?;
    app.until(
        &visible("#hosts-table"),
        Duration::from_secs(180),
        "the hosts table",
    )
    .await?;
    // Each host's "Image store" cell, and its whole row, as a person reads them.
    let store_cell = |h: &str| format!("#hosts-table tr[data-host={h}] td[data-col='2']");
    let web1 = app.text("#hosts-table tr[data-host=web1]").await?;
    assert!(web1.contains(version) && web1.contains("shown"), "{web1}");
    let (s1, s2) = (
        app.text(&store_cell("web1")).await?,
        app.text(&store_cell("web2")).await?,
    );
    assert!(s1.starts_with("containerd ("), "web1's store: {s1}");
    assert!(s2.starts_with("classic ("), "web2's store: {s2}");
    app.shot("hosts").await?;
    app.audit("Hosts").await?;

    // The same switch on every host: web1 already runs it, web2 switches.
    app.click("#fleet-store-containerd").await?;
    app.click("#fleet-plan").await?;
    app.until(
        &visible("#fleet-switch"),
        Duration::from_secs(120),
        "every host's plan",
    )
    .await?;
    let plans = app.text("#fleet-plan-table").await?;
    assert!(plans.contains("already runs it"), "{plans}");
    assert!(plans.contains("restarts the engine"), "{plans}");
    assert_eq!(
        app.text("#fleet-switch").await?,
        "Switch 1 host to the containerd store"
    );
    app.click("#fleet-switch").await?;
    app.until(
        &visible("#fleet-outcome"),
        Duration::from_secs(300),
        "the fleet switch's end",
    )
    .await?;
    assert_eq!(
        app.text("#fleet-outcome").await?,
        "Every host runs as asked."
    );
    let results = app.text("#fleet-results-table").await?;
    assert!(
        results.contains("canary") && results.contains("applied"),
        "{results}"
    );
    assert_eq!(store_of(hosts, 1), "containerd", "web2's own docker info");
    app.until(
        &format!(
            "{}.startsWith('containerd')",
            text_of("#hosts-table tr[data-host=web2] td[data-col='2']")
        ),
        Duration::from_secs(180),
        "web2's row following the switch",
    )
    .await?;
    app.shot("hosts-switched").await?;

    // A change the window stops waiting for goes on there: web2's docker.service is made slow
    // to start, web2 chosen, its containerd store turned off, and Stop waiting clicked.
    slow_start(hosts, 1);
    app.open("general").await?;
    app.until(
        &visible("#context-web2"),
        Duration::from_secs(20),
        "the chooser",
    )
    .await?;
    app.click("#context-web2").await?;
    app.until(
        &format!(
            "{}.includes('web2') && {}.includes('containerd store')",
            text_of("#engine-chip"),
            text_of("#engine-chip")
        ),
        Duration::from_secs(60),
        "web2's engine in the chip",
    )
    .await?;
    app.open("features").await?;
    app.until(
        &visible(FEATURE),
        Duration::from_secs(60),
        "web2's features",
    )
    .await?;
    assert!(
        app.checked(FEATURE).await?,
        "web2 runs the containerd store"
    );
    app.click(FEATURE).await?;
    app.until(
        &visible("#plan-apply"),
        Duration::from_secs(60),
        "web2's plan",
    )
    .await?;
    app.click("#plan-apply").await?;
    // Possible once web2's stowctl has the change (its first stage came).
    app.until(
        "document.querySelector('#change-stop-waiting')?.disabled === false",
        Duration::from_secs(30),
        "Stop waiting, once web2 has the change",
    )
    .await?;
    app.click("#change-stop-waiting").await?;
    app.until(
        "document.querySelector('#change-outcome')?.dataset.outcome === 'stopped_waiting'",
        Duration::from_secs(20),
        "the window no longer waiting",
    )
    .await?;
    let said = app.text("#change-outcome").await?;
    assert!(
        said.contains("Stopped waiting")
            && said.contains("The change on ssh://root@web2 was not stopped"),
        "{said}"
    );
    // It went on there, to its end.
    let t0 = Instant::now();
    while store_of(hosts, 1) != "classic" {
        if t0.elapsed() > Duration::from_secs(120) {
            return Err("web2's switch did not go on after the window stopped waiting".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.shot("remote-stopped-waiting").await?;
    app.click("#change-reread").await?;
    app.until(
        &format!(
            "{}.includes('classic image store')",
            text_of("#features-engine")
        ),
        Duration::from_secs(60),
        "web2's features read again",
    )
    .await?;

    // Dark, at 800x600: the Hosts page reads, and nothing spills sideways off the page.
    app.open("general").await?;
    app.c.set_window_size(800, 600).await?;
    app.js("(() => { const s = document.querySelector('#pref-theme'); s.value = 'dark'; s.dispatchEvent(new Event('change')); return true; })()").await?;
    app.until(
        "document.documentElement.dataset.theme === 'dark'",
        Duration::from_secs(5),
        "the dark theme",
    )
    .await?;
    app.open("hosts").await?;
    app.until(
        &visible("#hosts-table"),
        Duration::from_secs(180),
        "the hosts table, dark",
    )
    .await?;
    let fits = app
        .js("document.documentElement.scrollWidth <= window.innerWidth")
        .await?;
    assert_eq!(fits, json!(true), "no horizontal overflow at 800x600");
    app.audit("Hosts, dark, 800x600").await?;
    app.shot("hosts-dark-800x600").await?;

    // Back to this machine's engine: the chip says so.
    app.open("general").await?;
    app.until(
        &visible("#general-contexts"),
        Duration::from_secs(20),
        "the chooser",
    )
    .await?;
    let id = app
        .js(&format!(
            "[...document.querySelectorAll('input[name=engine]:not([data-context])')].find((i) => document.getElementById(i.id + '-desc')?.innerText.includes({}))?.id ?? null",
            json!(local)
        ))
        .await?;
    let id = id
        .as_str()
        .ok_or("this machine's engine is not in the chooser")?;
    app.click(&format!("[id={}]", json!(id))).await?;
    app.until(
        &format!(
            "!{}.includes('web1') && {}.includes('classic store')",
            text_of("#engine-chip"),
            text_of("#engine-chip")
        ),
        Duration::from_secs(30),
        "this machine's engine in the chip again",
    )
    .await?;
    Ok(())
}
