//! Every door that restarts the engine says first what stops and brings it back: the first-run
//! wizard's switch, Images → Migrate and Engine → Restart, walked with a running compose project
//! and running standalone containers, read on screen and then checked in the engine.

use super::*;

/// A first launch on an engine with a compose project (`shop`: web and worker running), a
/// running standalone container (`db`) and a created one (`lonely`): the wizard's switch names
/// the three running containers that stop, offers to bring `shop` and an image along, ticks its
/// steps as they happen and ends with the core's sentence; `shop` then runs on the containerd
/// store. Images → Migrate of a classic image left behind restarts the engine twice: its plan
/// names the two containers that stop and offers to start them again, and they run afterwards.
#[test]
#[ignore = "needs a display, tauri-driver, docker compose and a real engine; scripts/test.sh runs it under Xvfb"]
fn the_wizard_and_images_migrate_say_what_stops_and_bring_it_back() {
    require_e2e!();
    let _turn = one_at_a_time();
    let d = PrivateDaemon::start_with_private_etc_docker(REALISTIC_DAEMON_JSON);
    stowage_tests::compose::shop_with_a_lonely_container(&d);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "none",
        "shop-app:1",
        "/bin/sleep",
        "3600",
    ]);
    d.import_image("carry-me:1");
    d.import_image("left-behind:1");
    run_app(&d, true, "doors", |app, d| Box::pin(doors(app, d)));
}

/// The names of the containers a plan lists under `css` (each `li[data-container]`).
async fn listed(app: &App, css: &str) -> Result<Vec<String>> {
    let v = app
        .js(&format!(
            "[...document.querySelectorAll({})].map(li => li.dataset.container)",
            json!(format!("{css} li[data-container]"))
        ))
        .await?;
    let mut names: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Waits until a stage of the progress under `prefix` is ticked while the operation still
/// runs: the stages follow the operation's own events, not its end.
async fn ticks_while_running(app: &App, prefix: &str) -> Result {
    app.until(
        &format!(
            "document.querySelectorAll('#{prefix}-stages li[data-state=finished]').length >= 1 && !document.querySelector('#{prefix}-outcome[data-outcome]')"
        ),
        Duration::from_secs(120),
        "a stage ticked before the end",
    )
    .await?;
    Ok(())
}

async fn doors(app: &App, d: &PrivateDaemon) -> Result {
    // The wizard: to the store choice, then the switch's plan.
    app.until(
        "document.body.dataset.page === 'wizard' && document.querySelector('#wizard')?.dataset.step === 'explain'",
        Duration::from_secs(90),
        "the wizard's findings",
    )
    .await?;
    app.click("#wizard-next").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'choose_store'",
        Duration::from_secs(20),
        "the store choice",
    )
    .await?;
    let desc = app.text("#wizard-store-containerd-desc").await?;
    assert!(
        desc.contains("The next step shows what stops and what can come along."),
        "{desc}"
    );
    app.click("#wizard-store-containerd").await?;
    app.click("#wizard-next").await?;
    app.until(
        "!!document.querySelector('#wizard-plan-apply')",
        Duration::from_secs(60),
        "the switch's plan",
    )
    .await?;
    // What stops: the three running containers, each named once, with the core's heading.
    assert_eq!(
        app.text("#wizard-plan-stopping-heading").await?,
        "3 running containers will stop:"
    );
    assert_eq!(
        listed(app, "#wizard-plan-stopping").await?,
        ["db", "shop-web-1", "shop-worker-1"]
    );
    let summary = app.text("#wizard-plan-summary").await?;
    assert!(
        !summary.contains("shop-web-1"),
        "the list names them, the summary does not again: {summary}"
    );
    let web = app
        .text("#wizard-plan-stopping li[data-container=\"shop-web-1\"]")
        .await?;
    assert!(
        web.starts_with("shop-web-1 — from shop-app:1, compose project shop"),
        "{web}"
    );
    // The switch hides them: no offer to start them again on a store they are not in.
    assert!(!app.shown("#wizard-plan-start-again").await?);
    // What can come along: the project, and the images.
    let project = "#wizard-plan-projects input[data-project=\"shop\"]";
    assert!(app.shown(project).await?, "the project's checkbox");
    assert_eq!(
        app.js(&format!(
            "document.querySelector('label[for=\"' + document.querySelector({}).id + '\"]').innerText",
            json!(project)
        ))
        .await?,
        json!("Bring shop to the containerd store")
    );
    assert_eq!(
        listed(app, "#wizard-plan-standalone").await?,
        ["db", "lonely"]
    );
    let carry = app
        .js("[...document.querySelectorAll('#wizard-images input[value]')].find(b => b.value === 'carry-me:1')?.id")
        .await?;
    let carry = carry.as_str().ok_or("carry-me:1 is offered")?.to_string();
    app.audit("the wizard's switch plan").await?;
    app.shot("wizard-plan-containers").await?;
    app.click(project).await?;
    app.click(&format!("#{carry}")).await?;
    let total = app.text("#wizard-migrate-total").await?;
    assert!(total.starts_with("1 of "), "{total}");
    app.click("#wizard-plan-apply").await?;
    ticks_while_running(app, "wizard").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'done'",
        Duration::from_secs(240),
        "the wizard's end",
    )
    .await?;
    let outcome = app.text("#wizard-outcome").await?;
    let summary = app.text("#wizard-summary").await?;
    assert!(
        summary.contains(
            "to the containerd store and verified the copies. The engine runs the containerd store."
        ),
        "{summary}"
    );
    assert!(summary.contains("carry-me:1"), "{summary}");
    assert_eq!(
        summary.matches("engine runs").count(),
        1,
        "said once: {summary}"
    );
    assert!(!outcome.contains("Nothing to change"), "{outcome}");
    assert!(
        outcome.contains(&summary),
        "the progress's outcome is the same sentence: {outcome}"
    );
    assert_eq!(
        app.text("#wizard-project-outcomes").await?,
        "shop: running (web, worker)"
    );
    let unticked = app
        .js("document.querySelectorAll('#wizard-stages li:not([data-state=finished])').length")
        .await?;
    assert_eq!(unticked, json!(0), "every step is ticked at the end");
    app.shot("wizard-switched").await?;
    // For real: the containerd store runs, shop with it; db stays in the classic store.
    assert!(uses_containerd(d), "{}", driver_status(d));
    stowage_tests::compose::assert_shop_running(d);
    let ps = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!ps.lines().any(|l| l == "db"), "db is hidden: {ps}");
    app.click("#wizard-finish").await?;
    app.until(
        "document.body.dataset.page === 'general'",
        Duration::from_secs(10),
        "the General page",
    )
    .await?;

    // Images → Migrate out of the hidden classic store: two restarts stop shop's containers.
    app.open("images").await?;
    let carried = app
        .text("li.image[data-ref='carry-me:1'][data-store='classic'] .meta")
        .await?;
    assert!(
        carried.ends_with("also in the containerd store"),
        "the hidden list says what is already across: {carried}"
    );
    app.click("li.image[data-ref='left-behind:1'][data-store='classic'] input")
        .await?;
    app.click("#images-migrate").await?;
    app.until(
        "!!document.querySelector('#migration-plan-apply')",
        Duration::from_secs(60),
        "the migration plan",
    )
    .await?;
    let plan = app.text("#migration-plan-summary").await?;
    assert!(
        plan.contains("The engine restarts twice and ends on the containerd store."),
        "{plan}"
    );
    assert_eq!(
        app.text("#migration-plan-stopping-heading").await?,
        "2 running containers will stop (the engine restarts twice):"
    );
    assert_eq!(
        listed(app, "#migration-plan-stopping").await?,
        ["shop-web-1", "shop-worker-1"]
    );
    assert!(
        app.checked("#migration-plan-start-again").await?,
        "starting them again is the default"
    );
    assert_eq!(
        app.text("label[for=migration-plan-start-again]").await?,
        "Start shop-web-1 and shop-worker-1 again when the engine is back"
    );
    assert_eq!(
        app.text("#migration-plan-apply").await?,
        "Migrate & Restart"
    );
    app.audit("the migration plan").await?;
    app.shot("images-migrate-plan").await?;
    app.click("#migration-plan-apply").await?;
    ticks_while_running(app, "migration").await?;
    app.until(
        "!!document.querySelector('#migration-outcome[data-outcome]')",
        Duration::from_secs(240),
        "the migration's outcome",
    )
    .await?;
    let outcome = app.text("#migration-outcome").await?;
    assert_eq!(
        app.js("document.querySelector('#migration-outcome').dataset.outcome")
            .await?,
        json!("applied"),
        "{outcome}"
    );
    assert!(
        outcome.contains("Running again: shop-web-1 and shop-worker-1."),
        "{outcome}"
    );
    let stages = app.text("#migration-stages").await?;
    assert!(stages.contains("Starting 2 containers again"), "{stages}");
    app.js("document.querySelector('#migration-outcome').scrollIntoView()")
        .await?;
    app.shot("images-migrated-running").await?;
    // For real: back on the containerd store, shop running, left-behind:1 there too.
    assert!(uses_containerd(d), "{}", driver_status(d));
    stowage_tests::compose::assert_shop_running(d);
    d.docker_ok(&["image", "inspect", "left-behind:1"]);

    // Engine → Restart: the same plan first, then the same progress, and they run again.
    app.open("engine").await?;
    app.click("#engine-restart").await?;
    app.until(
        "!!document.querySelector('#restart-plan-apply')",
        Duration::from_secs(30),
        "the restart's plan",
    )
    .await?;
    assert_eq!(
        app.text("#restart-plan-stopping-heading").await?,
        "2 running containers will stop:"
    );
    assert_eq!(
        listed(app, "#restart-plan-stopping").await?,
        ["shop-web-1", "shop-worker-1"]
    );
    assert!(app.checked("#restart-plan-start-again").await?);
    app.audit("the restart's plan").await?;
    app.click("#restart-plan-apply").await?;
    app.until(
        "!!document.querySelector('#restart-outcome[data-outcome]')",
        Duration::from_secs(120),
        "the restart's outcome",
    )
    .await?;
    let outcome = app.text("#restart-outcome").await?;
    assert!(
        outcome.contains("Running again: shop-web-1 and shop-worker-1."),
        "{outcome}"
    );
    assert!(!app.shown("#restart-plan").await?, "the plan gave way");
    stowage_tests::compose::assert_shop_running(d);

    // The tray's Restart cannot ask in a menu: with containers running it opens the same plan
    // in the window instead of restarting; Cancel there leaves the engine as it runs.
    let env = format!("STOWAGE_HOME={}", d.stowage_home.display());
    let pid = *e2e::pids_of(&e2e::app_bin(), &env)
        .first()
        .ok_or("the app's process was not found")?;
    let tray = e2e::TrayMenu::find(pid).ok_or("the app exports no tray menu")?;
    let restart = tray
        .entry("Restart engine")
        .ok_or("no Restart in the tray")?
        .id;
    app.open("general").await?;
    let engine_pid = d.current_pid();
    assert!(tray.click(restart));
    app.until(
        "document.body.dataset.page === 'engine' && !!document.querySelector('#restart-plan-apply')",
        Duration::from_secs(30),
        "the tray's restart plan in the window",
    )
    .await?;
    assert_eq!(
        listed(app, "#restart-plan-stopping").await?,
        ["shop-web-1", "shop-worker-1"]
    );
    app.click("#restart-plan-cancel").await?;
    assert!(!app.shown("#restart-plan").await?);
    assert_eq!(d.current_pid(), engine_pid, "nothing restarted");
    stowage_tests::compose::assert_shop_running(d);

    // A short window (800x600): the selection bar does not cover the lists.
    app.c.set_window_size(800, 600).await?;
    app.open("images").await?;
    let bar = app
        .js("getComputedStyle(document.querySelector('#images-actions')).position")
        .await?;
    assert_eq!(bar, json!("static"), "the bar scrolls with the page");
    let overflow = app
        .js("document.querySelector('#page').scrollWidth <= document.querySelector('#page').clientWidth")
        .await?;
    assert_eq!(overflow, json!(true), "nothing widens the page");
    app.shot("images-800x600").await?;
    Ok(())
}
