//! End to end in a real webview: the desktop app (tauri-driver + WebKitWebDriver under Xvfb)
//! against a real private dockerd as its engine. Ticks "Use containerd for pulling and storing
//! images", applies, watches the progress reach done, checks the Engine API, unticks and
//! restores; follows an external `stowctl` switch; shows a rollback; screenshots every page into
//! target/e2e-screenshots/ (or `$STOWAGE_SCREENSHOTS`, e.g. docs/screenshots to refresh the README's).
//!
//! Ignored by a plain `cargo test` (it needs a display, tauri-driver and root); run with
//! `--include-ignored`, a missing prerequisite fails it. Run it as (scripts/test.sh does):
//! `xvfb-run -a -s '-screen 0 1024x768x24' dbus-run-session -- cargo test -p stowage-tests --test e2e -- --include-ignored`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use stowage_tests::e2e::{self, TauriDriver};
use stowage_tests::{require_e2e, PrivateDaemon, REALISTIC_DAEMON_JSON};

mod doors;
mod remote;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const FEATURE: &str = "#feature-containerd-image-store";

/// The tests of this binary take turns: each starts its own tauri-driver on the same port.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A JS expression: whether the element `css` is on screen (rendered boxes, no hidden ancestor).
fn visible(css: &str) -> String {
    format!(
        "((e) => !!e && e.getClientRects().length > 0)(document.querySelector({}))",
        json!(css)
    )
}

struct App {
    c: Client,
    shots: PathBuf,
}

impl App {
    async fn start(driver: &TauriDriver, args: &[&str]) -> Result<Self> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({"application": e2e::app_bin(), "args": args}),
        );
        // tauri-driver listens before its WebKitWebDriver does: a session request that finds
        // no answer yet is tried again (a loaded machine was seen to need it), three times.
        let mut attempt = 0;
        let c = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&driver.url())
                .await
            {
                Ok(c) => break c,
                Err(
                    e @ (fantoccini::error::NewSessionError::Failed(_)
                    | fantoccini::error::NewSessionError::FailedC(_)
                    | fantoccini::error::NewSessionError::Lost(_)),
                ) if attempt < 2 => {
                    attempt += 1;
                    eprintln!("e2e: no WebDriver session yet ({e}); trying again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        // Screenshots go to docs/screenshots only when asked (to refresh the committed ones);
        // otherwise into the target dir, so a test run leaves the work tree as it was.
        let shots = match std::env::var_os("STOWAGE_SCREENSHOTS") {
            Some(dir) => std::path::PathBuf::from(dir),
            None => e2e::repo_root().join("target/e2e-screenshots"),
        };
        std::fs::create_dir_all(&shots)?;
        Ok(App { c, shots })
    }

    /// Evaluates `expr` (a JS expression) in the page.
    async fn js(&self, expr: &str) -> Result<Value> {
        let script = format!("return ({expr});");
        match tokio::time::timeout(Duration::from_secs(30), self.c.execute(&script, vec![])).await {
            Ok(v) => Ok(v?),
            Err(_) => Err(format!("the webview did not answer within 30 s: {expr}").into()),
        }
    }

    /// Polls `expr` until it is truthy; fails with `what` and the page's text after `limit`.
    async fn until(&self, expr: &str, limit: Duration, what: &str) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let v = self.js(expr).await?;
            if v.as_bool() == Some(true) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > limit {
                let text = self.js("document.body.innerText").await?;
                return Err(format!(
                    "timed out after {limit:?} waiting for {what}; page:\n{}",
                    text.as_str().unwrap_or("")
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element; retried for a few seconds when the page re-rendered it meanwhile.
    async fn click(&self, css: &str) -> Result {
        // As a person does: scroll until it is clear of the sticky bars, then click (WebDriver
        // scrolls only what is out of view, and clicks what covers a half-visible element).
        self.js(&format!(
            "document.querySelector({})?.scrollIntoView({{ block: 'center' }}) ?? null",
            serde_json::to_string(css)?
        ))
        .await?;
        let start = Instant::now();
        loop {
            let res = tokio::time::timeout(Duration::from_secs(30), async {
                self.c.find(Locator::Css(css)).await?.click().await
            })
            .await
            .map_err(|_| format!("the click on {css} did not return within 30 s"))?;
            match res {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() < Duration::from_secs(5) => {
                    eprintln!("e2e: retrying a click on {css}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The text a person reads in the element (read in one script: a page re-rendering
    /// meanwhile is no stale-element error).
    async fn text(&self, css: &str) -> Result<String> {
        let css_js = serde_json::to_string(css)?;
        match self
            .js(&format!(
                "document.querySelector({css_js})?.innerText ?? null"
            ))
            .await?
        {
            Value::String(t) => Ok(t.trim().to_string()),
            _ => Err(format!("no element {css} on the page").into()),
        }
    }

    async fn open(&self, page: &str) -> Result {
        eprintln!("e2e: opening {page}");
        self.click(&format!("a[data-page=\"{page}\"]")).await?;
        self.until(
            &format!("document.body.dataset.page === '{page}' && !document.querySelector('#page-body [aria-busy=\"true\"]')"),
            Duration::from_secs(20),
            &format!("the {page} page"),
        )
        .await?;
        Ok(())
    }

    /// A screenshot of the app's window as the X server shows it (ImageMagick `import`; the
    /// WebDriver screenshot command of WebKitWebDriver was seen to hang after a few switches).
    async fn shot(&self, name: &str) -> Result {
        // Let fonts and layout settle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = self
            .js("[window.screenX, window.screenY, window.innerWidth, window.innerHeight]")
            .await?;
        let n = |i: usize| r[i].as_i64().unwrap_or(0);
        let file = self.shots.join(format!("{name}.png"));
        let out = std::process::Command::new("import")
            .args(["-window", "root", "-crop"])
            .arg(format!("{}x{}+{}+{}", n(2), n(3), n(0), n(1)))
            .args(["+repage", "-strip"])
            .arg(&file)
            .output()?;
        if !out.status.success() {
            return Err(format!("import failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    }

    /// Whether the element is on screen: it has rendered boxes (no `hidden`, no display:none
    /// on it or an ancestor). Read in one script, so a page re-rendering meanwhile is no error.
    async fn shown(&self, css: &str) -> Result<bool> {
        Ok(self.js(&visible(css)).await?.as_bool() == Some(true))
    }

    /// The accessibility audit (axe-core, injected once per document): fails on serious or
    /// critical violations of the page on screen, printing each with the elements it names.
    async fn audit(&self, what: &str) -> Result {
        let loaded = self.js("typeof window.axe === 'object'").await?;
        if loaded.as_bool() != Some(true) {
            let src = std::fs::read_to_string(e2e::axe_script())?;
            self.c.execute(&src, vec![]).await?;
        }
        let t0 = Instant::now();
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((r) => done(r.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map((n) => ({ target: n.target.join(" "), why: n.failureSummary })) }))))
              .catch((e) => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));
        "#;
        let found = tokio::time::timeout(
            Duration::from_secs(60),
            self.c.execute_async(script, vec![]),
        )
        .await
        .map_err(|_| format!("the accessibility audit of {what} did not finish within 60 s"))??;
        let list = found.as_array().cloned().unwrap_or_default();
        eprintln!(
            "e2e: accessibility audit of {what}: {} serious or critical violations ({:.2} s)",
            list.len(),
            t0.elapsed().as_secs_f64()
        );
        if list.is_empty() {
            return Ok(());
        }
        let mut report = String::new();
        for v in &list {
            report.push_str(&format!("- {} ({}): {}\n", v["id"], v["impact"], v["help"]));
            for n in v["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!("    {}: {}\n", n["target"], n["why"]));
            }
        }
        eprintln!("{report}");
        Err(format!("accessibility audit of {what} failed:\n{report}").into())
    }

    async fn checked(&self, css: &str) -> Result<bool> {
        Ok(self
            .js(&format!(
                "document.querySelector({})?.checked === true",
                json!(css)
            ))
            .await?
            .as_bool()
            == Some(true))
    }
}

fn driver_status(d: &PrivateDaemon) -> String {
    d.docker_ok(&["info", "--format", "{{json .DriverStatus}}"])
}

fn uses_containerd(d: &PrivateDaemon) -> bool {
    driver_status(d).contains("io.containerd.snapshotter.v1")
}

/// Applies the plan on screen and waits for the outcome; returns it and the time it took.
async fn apply_and_wait(app: &App) -> Result<(String, Duration)> {
    app.until(
        "!!document.querySelector('#plan-apply:not([disabled])')",
        Duration::from_secs(30),
        "the plan's Apply button",
    )
    .await?;
    let start = Instant::now();
    app.click("#plan-apply").await?;
    app.until(
        "!!document.querySelector('#change-outcome[data-outcome]')",
        Duration::from_secs(180),
        "the outcome",
    )
    .await?;
    let outcome = app
        .js("document.querySelector('#change-outcome').dataset.outcome")
        .await?;
    Ok((
        outcome.as_str().unwrap_or_default().to_string(),
        start.elapsed(),
    ))
}

#[test]
#[ignore = "needs a display, tauri-driver and a real engine; scripts/test.sh runs it under Xvfb"]
fn the_app_switches_stores_follows_outside_changes_and_shows_a_rollback() {
    require_e2e!();
    let _turn = one_at_a_time();
    let started = Instant::now();
    // In a private mount namespace with its own /etc/docker, where the registry fix writes the
    // hosts.toml this rootful engine reads: the machine's /etc/docker is never touched.
    let d = PrivateDaemon::start_with_private_etc_docker(REALISTIC_DAEMON_JSON);
    d.import_image("made-in-classic:1");
    let home = d.stowage_home.display().to_string();
    let host = d.host();
    // The user's own folders and desktop services, so nothing of the machine's is touched.
    let user_home = d.dir().join("home");
    std::fs::create_dir_all(&user_home).unwrap();
    let browser = e2e::BrowserRecorder::new(d.dir());
    let (user_home_s, browser_s) = (
        user_home.display().to_string(),
        browser.script.display().to_string(),
    );
    let driver = TauriDriver::start_with(
        |program| d.command(program),
        &[
            ("STOWAGE_HOME", home.as_str()),
            ("HOME", user_home_s.as_str()),
            ("BROWSER", browser_s.as_str()),
            ("DOCKER_HOST", host.as_str()),
            ("RUST_LOG", "info,stowage=debug"),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ],
        &d.dir().join("tauri-driver.log"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let desk = Desktop {
            home: user_home.clone(),
            browser,
            files: e2e::FakeFileManager::start()
                .await
                .map_err(|e| format!("the fake file manager: {e}"))?,
        };
        scenario(&d, &driver, &desk).await
    });
    // The session is closed by `scenario`; without a tray host the app then quits.
    e2e::wait_for_exit(
        &e2e::app_bin(),
        &format!("STOWAGE_HOME={home}"),
        Duration::from_secs(10),
    );
    if let Err(e) = result {
        let log = std::fs::read_to_string(&driver.log_file).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!(
            "{e}\n--- app and driver log (last lines) ---\n{}\n--- dockerd log ---\n{}",
            tail.join("\n"),
            d.log_tail(20)
        );
    }
    eprintln!("e2e: passed in {:.1} s", started.elapsed().as_secs_f64());
}

/// The desktop around the app: the user's home, browser and file manager, as the test sees them.
struct Desktop {
    home: PathBuf,
    browser: e2e::BrowserRecorder,
    files: e2e::FakeFileManager,
}

async fn scenario(d: &PrivateDaemon, driver: &TauriDriver, desk: &Desktop) -> Result {
    let launched = Instant::now();
    let app = App::start(driver, &[]).await?;
    let painted = app
        .until(
            "document.querySelector('#engine-chip')?.getAttribute('aria-busy') === 'false'",
            Duration::from_secs(30),
            "the engine chip",
        )
        .await?;
    eprintln!(
        "e2e: engine data painted {:.2} s after the session was up, {:.2} s after launch",
        painted.as_secs_f64(),
        launched.elapsed().as_secs_f64()
    );
    let chip = app.text("#engine-chip").await?;
    assert!(chip.contains("classic store"), "chip: {chip}");
    let result = steps(&app, d, desk).await;
    if let Err(e) = &result {
        eprintln!("e2e: FAILED: {e}");
        if app.shot("failure").await.is_ok() {
            eprintln!(
                "e2e: screenshot of the failure: {}",
                app.shots.join("failure.png").display()
            );
        }
    }
    if tokio::time::timeout(Duration::from_secs(20), app.c.close())
        .await
        .is_err()
    {
        eprintln!("e2e: closing the WebDriver session took over 20 s");
    }
    result
}

async fn steps(app: &App, d: &PrivateDaemon, desk: &Desktop) -> Result {
    let original = std::fs::read_to_string(&d.config_file)?;

    wizard(app, d).await?;

    // General: the engine chosen through DOCKER_HOST is the managed one.
    app.until(
        "!!document.querySelector('input[name=engine]:checked')",
        Duration::from_secs(20),
        "the engine picker",
    )
    .await?;
    app.shot("general").await?;
    // The engine is named as a person knows it (here its socket), not `dockerd-<hash>`.
    let chip = app.text("#engine-chip").await?;
    assert!(!chip.contains("dockerd-"), "chip: {chip}");
    let socket = d.host().trim_start_matches("unix://").to_string();
    assert!(chip.starts_with(&socket), "the chip names {socket}: {chip}");
    // No tray host here: the General page says that closing the window quits, by the setting.
    app.until(
        "!!document.querySelector('#pref-tray-none')",
        Duration::from_secs(10),
        "the no-tray note",
    )
    .await?;
    assert!(app.shown("#pref-tray-none").await?);
    let note = app.text("#pref-tray-none").await?;
    assert!(note.contains("closing this window quits Stowage"), "{note}");
    // An engine found, not Stowage's sandbox: no sandbox notice, and the engine says where it
    // was found.
    assert!(!app.shown("#general-sandbox").await?);
    let desc = app
        .js("document.querySelector('input[name=engine]:checked').closest('.choice').querySelector('p.muted').innerText")
        .await?;
    assert!(
        desc.as_str().unwrap_or_default().contains(" · found by "),
        "{desc}"
    );
    // The sidebar's links leave room for their focus ring inside the scrolling list.
    let ring = app.js("(() => { const l = document.querySelector('#nav-list').getBoundingClientRect(); return [...document.querySelectorAll('#nav-list a')].every(a => { const r = a.getBoundingClientRect(); return r.left - 5 >= l.left - 0.5 && r.right + 5 <= l.right + 0.5 && r.top - 5 >= l.top - 0.5; }); })()").await?;
    assert_eq!(ring, json!(true), "focus rings fit in the sidebar's list");
    app.audit("the General page").await?;

    // Features: tick the store, read the plan.
    app.open("features").await?;
    // The tabs hide what they do not show: Beta shows no experimental feature, and the
    // Experimental tab shows only experimental ones.
    assert!(app.shown("[data-feature='containerd-image-store']").await?);
    assert!(
        !app.shown("[data-feature='experimental']").await?,
        "Beta hides the experimental features"
    );
    app.click("#tab-experimental").await?;
    let visible = app.js("[...document.querySelectorAll('#features-list .feature')].filter(f => f.getClientRects().length > 0).map(f => f.dataset.feature)").await?;
    assert_eq!(visible, json!(["experimental"]), "the Experimental tab");
    assert!(!app.shown("[data-feature='containerd-image-store']").await?);
    app.audit("the Features page (Experimental)").await?;
    app.click("#tab-beta").await?;
    assert!(
        !app.checked(FEATURE).await?,
        "the classic store runs: the box starts unticked"
    );
    // Each state in words: what runs is said only when it differs from daemon.json, and the
    // catalog's `code` is set as code, never as literal backticks.
    let states = app
        .js("[...document.querySelectorAll('#features-list .state')].map(p => p.textContent)")
        .await?;
    for st in states.as_array().into_iter().flatten() {
        let st = st.as_str().unwrap_or_default();
        assert!(
            st.starts_with("On") || st.starts_with("Off"),
            "a state: {st}"
        );
        assert!(!st.contains("not running"), "{st}");
    }
    let list = app
        .js("document.querySelector('#features-list').textContent")
        .await?;
    assert!(
        !list.as_str().unwrap_or_default().contains('`'),
        "no literal backticks: {list}"
    );
    let label = app
        .text(&format!("label[for=\"{}\"]", &FEATURE[1..]))
        .await?;
    assert_eq!(label, "Use containerd for pulling and storing images");
    // The containerd store's snapshotter selector: what the engine's containerd offers, the
    // unusable ones disabled with their reason listed.
    let options = app.js("[...document.querySelectorAll('#snapshotter-select option')].filter(o => o.value).map(o => [o.value, o.disabled])").await?;
    let options = options.as_array().expect("options").clone();
    for name in ["overlayfs", "native"] {
        assert!(
            options.contains(&json!([name, false])),
            "{name} offered and enabled: {options:?}"
        );
    }
    for o in options.iter().filter(|o| o[1] == json!(true)) {
        let name = o[0].as_str().unwrap();
        let reason = app
            .js(&format!("document.querySelector(\"#snapshotter-reasons [data-snapshotter='{name}']\")?.textContent ?? ''"))
            .await?;
        assert!(
            reason
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{name}: containerd could not load it: ")),
            "the reason {name} is not usable: {reason}"
        );
    }
    let note = app
        .js("document.querySelector('#snapshotter-reasons').textContent")
        .await?;
    let note = note.as_str().unwrap_or_default();
    assert!(note.contains("cannot load proxy snapshotters"), "{note}");
    // Choosing one plans the switch with `storage-driver` naming it; Cancel leaves all as it was.
    app.js("(() => { const s = document.querySelector('#snapshotter-select'); s.value = 'native'; s.dispatchEvent(new Event('change')); return true; })()").await?;
    app.until(
        "!!document.querySelector('#plan-apply') && document.querySelector('#plan').textContent.includes('\"storage-driver\": \"native\"')",
        Duration::from_secs(20),
        "the plan of the snapshotter",
    )
    .await?;
    app.click("#plan-cancel").await?;
    app.until(
        "document.querySelector('#plan').hidden && document.querySelector('#snapshotter-select').value === ''",
        Duration::from_secs(10),
        "the snapshotter plan cancelled",
    )
    .await?;
    // Its documentation opens in the browser (the desktop's, here a recorder).
    let learn = "[data-feature='containerd-image-store'] a.external";
    assert!(app.shown(learn).await?);
    let words = app.text(learn).await?;
    assert!(words.starts_with("Learn more"), "{words}");
    app.click(learn).await?;
    let t0 = Instant::now();
    while desk.browser.opened().is_empty() && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        desk.browser.opened(),
        vec!["https://docs.docker.com/engine/storage/containerd/".to_string()]
    );
    assert_eq!(
        app.js("location.hash").await?,
        json!("#features"),
        "the window stays on its page"
    );
    app.shot("features").await?;
    // Keyboard: the tabs follow the arrow keys, and focus moves with the selection.
    let beta = app.c.find(Locator::Css("#tab-beta")).await?;
    beta.send_keys("\u{E014}").await?; // ArrowRight
    app.until(
        "document.activeElement.id === 'tab-experimental' && document.querySelector('#panel-experimental').hidden === false",
        Duration::from_secs(5),
        "the Experimental tab by keyboard",
    )
    .await?;
    let experimental = app.c.find(Locator::Css("#tab-experimental")).await?;
    experimental.send_keys("\u{E012}").await?; // ArrowLeft
    app.until(
        "document.activeElement.id === 'tab-beta' && document.querySelector('#panel-beta').hidden === false",
        Duration::from_secs(5),
        "the Beta tab by keyboard",
    )
    .await?;
    app.click(FEATURE).await?;
    app.until(
        "!!document.querySelector('#plan-apply')",
        Duration::from_secs(30),
        "the plan",
    )
    .await?;
    let plan = app.text("#plan").await?;
    assert!(
        plan.contains("containerd-snapshotter"),
        "the diff shows the feature key: {plan}"
    );
    // What it hides, said once (highlighted, not repeated in the list above it).
    assert_eq!(
        app.text("#plan-hidden").await?,
        "Switching from the classic store to the containerd store hides 1 image and 0 containers of the classic store. They are not deleted: they come back when you switch back."
    );
    assert_eq!(plan.matches("hides 1 image").count(), 1, "{plan}");
    assert!(plan.contains("Apply & Restart"), "{plan}");
    assert!(
        plan.contains("No containers are running: none will stop."),
        "the plan says which running containers stop: {plan}"
    );
    // People's words: the feature's name, no id, no literal backticks, no "image(s)".
    let summary = app.text("#plan .summary").await?;
    assert!(
        summary.contains("Turn on the containerd image store."),
        "{summary}"
    );
    assert!(!summary.contains("containerd-image-store"), "{summary}");
    assert!(!plan.contains('`') && !plan.contains("(s)"), "{plan}");
    app.audit("the Features page with a plan").await?;
    app.shot("features-plan").await?;
    note_badge_reads_as_a_badge(app, "light").await?;

    // Apply & Restart: the progress reaches done and the engine runs the containerd store.
    let (outcome, took) = apply_and_wait(app).await?;
    assert_eq!(outcome, "applied", "{}", app.text("#change-outcome").await?);
    let bar = app.js("[document.querySelector('#change-progress').value, document.querySelector('#change-progress').max]").await?;
    assert_eq!(bar[0], bar[1], "the progress bar is full: {bar}");
    let stages = app.js("[...document.querySelectorAll('#change-stages li')].map(li => li.dataset.stage + ':' + li.dataset.state)").await?;
    for s in [
        "writing_config:finished",
        "stopping:finished",
        "starting:finished",
        "waiting_for_api:finished",
        "verifying_store:finished",
        "done:finished",
    ] {
        assert!(
            stages.as_array().unwrap().iter().any(|x| x == s),
            "{s} in {stages}"
        );
    }
    eprintln!(
        "e2e: switch to containerd applied in {:.1} s",
        took.as_secs_f64()
    );
    assert!(uses_containerd(d), "Engine API: {}", driver_status(d));
    app.until(
        &format!("document.querySelector('{FEATURE}').checked === true"),
        Duration::from_secs(20),
        "the ticked box",
    )
    .await?;
    app.until(
        "document.querySelector('#engine-chip').textContent.includes('containerd store')",
        Duration::from_secs(10),
        "the chip",
    )
    .await?;
    app.shot("features-applied").await?;
    assert!(
        app.shown("#switch-back").await?,
        "an applied switch offers Switch back"
    );
    assert_eq!(
        app.text("#switch-back").await?,
        "Switch back to the classic store"
    );
    assert_eq!(
        app.text("#change-progress-title").await?,
        "The change",
        "the heading says the change is over"
    );

    // Images: the classic store's image is hidden, not lost; the containerd store is active.
    app.open("images").await?;
    assert_eq!(app.text("#store-containerd-state").await?, "Active");
    assert_eq!(app.text("#store-classic-state").await?, "Hidden, not lost");
    let classic = app.text("#store-classic").await?;
    assert!(classic.contains("made-in-classic:1"), "{classic}");
    assert!(classic.contains("hidden from docker"), "{classic}");
    assert!(
        app.js(
            "!!document.querySelector('#du-classic') && !!document.querySelector('#du-containerd')"
        )
        .await?
        .as_bool()
            == Some(true),
        "a disk-usage bar per store"
    );
    // The bars show use against the filesystem (a small store is not a full bar) and say so;
    // no raw bytes.
    let du = app.text("#du-classic-label").await?;
    assert!(du.contains(" free on /"), "the filesystem is named: {du}");
    // What the bytes are, as the engine counts them for the active store.
    let breakdown = app.text("#store-containerd-breakdown").await?;
    assert!(
        breakdown.starts_with("Images ")
            && breakdown.ends_with("(as docker system df counts them)"),
        "{breakdown}"
    );
    // The hidden store offers its space back.
    assert!(
        app.shown("#store-classic-reclaim").await?,
        "Free … on the hidden store"
    );
    assert!(
        !app.shown("#store-containerd-reclaim").await?,
        "never on the active store"
    );
    let fill = app.js("(() => { const m = document.querySelector('#du-classic'); return m.value / m.max; })()").await?;
    assert!(
        fill.as_f64().unwrap_or(1.0) < 0.9,
        "the classic bar is not full: {fill}"
    );
    // One vocabulary of sizes: each row's "image size", the store's counts without a second
    // byte figure to contradict it, and what each size counts, said once on the page.
    let totals = app.text("#store-classic-totals").await?;
    assert_eq!(totals, "1 image, 0 containers");
    assert!(classic.contains("image size "), "{classic}");
    assert_eq!(
        app.js("document.querySelector('#size-terms').open").await?,
        json!(false),
        "the definitions are one click away"
    );
    app.click("#size-terms summary").await?;
    let terms = app.text("#size-terms").await?;
    for term in ["Image size", "On disk", "Images", "Compressed content"] {
        assert!(terms.contains(term), "{term} in {terms}");
    }
    app.click("#size-terms summary").await?;
    let raw = app.js("/\\d bytes/.test(document.querySelector('#page').innerText) || document.querySelector('#page').innerText.includes('(s)')").await?;
    assert_eq!(raw, json!(false), "no raw byte counts, no \"(s)\" plurals");
    // Search filters both stores.
    let search = app.c.find(Locator::Css("#images-search")).await?;
    search.send_keys("nothing-is-called-this").await?;
    app.until(
        "[...document.querySelectorAll('li.image')].every(li => li.hidden)",
        Duration::from_secs(5),
        "the search to hide every image",
    )
    .await?;
    // ... for real: no image row is on screen, and the page says why.
    let rows = app.js("[...document.querySelectorAll('li.image')].filter(li => li.getClientRects().length > 0).length").await?;
    assert_eq!(rows, json!(0), "no image row is displayed");
    assert!(
        app.shown("#images-empty").await?,
        "the empty message is displayed"
    );
    assert_eq!(
        app.text("#images-empty").await?,
        "No image matches the search."
    );
    assert_eq!(app.text("#images-count").await?, "0 of 1 shown");
    search.clear().await?;
    search.send_keys("made-in").await?;
    app.until(
        "[...document.querySelectorAll('li.image')].some(li => !li.hidden && li.dataset.ref === 'made-in-classic:1')",
        Duration::from_secs(5),
        "the search to find the classic image",
    )
    .await?;
    app.js("document.querySelector('#page').scrollTo(0, 0)")
        .await?;
    app.audit("the Images page").await?;
    app.shot("images").await?;
    // Migrate: selecting the hidden image offers a plan (steps, restarts) before anything runs.
    app.click("li.image[data-ref='made-in-classic:1'] input")
        .await?;
    // "Migrate selected…" is on screen next to the selection, wherever the list ends.
    let near = app.js("(() => { const b = document.querySelector('#images-migrate').getBoundingClientRect(); const p = document.querySelector('#page').getBoundingClientRect(); return b.top >= p.top && b.bottom <= p.bottom && b.height > 0; })()").await?;
    assert_eq!(near, json!(true), "Migrate selected… is in view");
    assert_eq!(
        app.text("#images-selection").await?,
        "1 selected: migrate to the containerd store."
    );
    app.click("#images-migrate").await?;
    app.until(
        "!!document.querySelector('#migration-plan-apply')",
        Duration::from_secs(30),
        "the migration plan",
    )
    .await?;
    let plan = app.text("#migration-plan").await?;
    assert!(
        plan.contains("from the classic store to the containerd store"),
        "{plan}"
    );
    assert!(plan.contains("The engine restarts twice"), "{plan}");
    assert!(plan.contains("Migrate 1 image,"), "{plan}");

    // Engine page: status, daemon.json preview, log lines.
    app.open("engine").await?;
    assert!(app
        .text("#engine-active-store")
        .await?
        .starts_with("containerd"));
    assert!(app
        .text("#engine-config")
        .await?
        .contains("\"containerd-snapshotter\": true"));
    app.audit("the Engine page").await?;
    app.shot("engine").await?;
    // Restart from the Engine page: a new dockerd answers, on the same store.
    let pid = d.current_pid();
    app.click("#engine-restart").await?;
    app.until(
        "!!document.querySelector('#restart-outcome[data-outcome]')",
        Duration::from_secs(120),
        "the restart's outcome",
    )
    .await?;
    assert_eq!(
        app.js("document.querySelector('#restart-outcome').dataset.outcome")
            .await?,
        "applied",
        "{}",
        app.text("#restart-outcome").await?
    );
    let restarted = app.text("#restart-outcome .outcome-title").await?;
    assert_eq!(restarted, "Restarted", "a restart's result says so");
    assert_eq!(
        app.text("#restart-progress-title").await?,
        "The restart",
        "the heading says it has ended"
    );
    let stop = app
        .text("#restart-stages li[data-stage='stopping'] .stage-ms")
        .await?;
    eprintln!("e2e: the Engine page's restart stopped dockerd in {stop}");
    let stop_s: f64 = stop.trim_end_matches(" s").parse().unwrap_or(f64::MAX);
    assert!(stop_s < 4.0, "Stopping the engine took {stop}");
    assert_ne!(d.current_pid(), pid, "a new dockerd runs");
    assert!(uses_containerd(d));

    // Someone else switches back with stowctl: the window follows within a second or two.
    app.open("features").await?;
    assert!(
        app.checked(FEATURE).await?,
        "the box shows the containerd store before stowctl runs"
    );
    let t0 = Instant::now();
    let out = d
        .stowctl()
        .args(["store", "use", "classic", "--yes", "--json"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = t0.elapsed();
    let seen = app
        .until(
            &format!("document.querySelector('{FEATURE}')?.checked === false"),
            Duration::from_secs(5),
            "the box to follow stowctl",
        )
        .await?;
    eprintln!(
        "e2e: window followed an external switch: stowctl took {:.2} s, the box was unticked {:.2} s after it returned",
        ran.as_secs_f64(),
        seen.as_secs_f64()
    );
    app.until(
        "document.querySelector('#engine-chip').textContent.includes('classic store')",
        Duration::from_secs(5),
        "the chip to follow",
    )
    .await?;
    // ... and an edit of daemon.json by hand shows on the Engine page.
    app.open("engine").await?;
    let edited = std::fs::read_to_string(&d.config_file)?.replacen(
        "\"max-concurrent-downloads\": 3",
        "\"max-concurrent-downloads\": 4",
        1,
    );
    std::fs::write(&d.config_file, &edited)?;
    let seen = app.until("document.querySelector('#engine-config')?.textContent.includes('\"max-concurrent-downloads\": 4')", Duration::from_secs(5), "the edited daemon.json").await?;
    eprintln!(
        "e2e: Engine page showed a hand edit of daemon.json after {:.2} s",
        seen.as_secs_f64()
    );
    std::fs::write(
        &d.config_file,
        std::fs::read_to_string(&d.config_file)?.replacen(
            "\"max-concurrent-downloads\": 4",
            "\"max-concurrent-downloads\": 3",
            1,
        ),
    )?;

    hand_edit_waits_for_restart(app, d).await?;
    stopped_engine_stays_chosen(app, d).await?;

    // Tick and untick through the window: back to classic, daemon.json as it was (but the
    // explicit `false` Stowage now keeps).
    app.open("features").await?;
    app.click(FEATURE).await?;
    let (outcome, _) = apply_and_wait(app).await?;
    assert_eq!(outcome, "applied");
    assert!(uses_containerd(d));
    app.until(&format!("document.querySelector('{FEATURE}').checked === true && !document.querySelector('{FEATURE}').disabled"), Duration::from_secs(20), "the ticked box").await?;
    // Switch back: the same plan and apply path, the box unticked for the user.
    app.click("#switch-back").await?;
    app.until(
        "!!document.querySelector('#plan-apply')",
        Duration::from_secs(30),
        "the plan",
    )
    .await?;
    let plan = app.text("#plan").await?;
    assert!(
        plan.contains("Switching from the containerd store to the classic store"),
        "{plan}"
    );
    // The new plan replaces what the last change showed: one card, one button to press.
    assert!(
        !app.shown("#change-outcome").await?,
        "the earlier change's progress and outcome are gone"
    );
    assert!(!app.shown("#switch-back").await?);
    let buttons = app
        .js("[...document.querySelectorAll('#page-body button.primary')].filter(b => b.getClientRects().length > 0).map(b => b.textContent)")
        .await?;
    assert_eq!(buttons, json!(["Apply & Restart"]), "one primary button");
    let (outcome, _) = apply_and_wait(app).await?;
    assert_eq!(outcome, "applied", "{}", app.text("#change-outcome").await?);
    assert!(!uses_containerd(d), "Engine API: {}", driver_status(d));
    let tags = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(
        tags.trim(),
        "made-in-classic:1",
        "the classic image is back"
    );
    let now: Value = serde_json::from_str(&std::fs::read_to_string(&d.config_file)?)?;
    let mut want: Value = serde_json::from_str(&original)?;
    want["features"]["containerd-snapshotter"] = false.into();
    assert_eq!(now, want, "only the feature value differs");

    tray(app, d).await?;

    diagnostics(app, d).await?;
    migration(app, d).await?;
    app.open("about").await?;
    app.audit("the About page").await?;
    app.shot("about").await?;
    paths_break_at_slashes(app, "#about-log-dir .path, #about-settings-file .path").await?;
    eprintln!("e2e: exporting a diagnostics bundle");
    app.click("#about-export").await?;
    app.until(
        "!!document.querySelector('#about-bundle-path')",
        Duration::from_secs(20),
        "the bundle",
    )
    .await?;
    let bundle = PathBuf::from(app.text("#about-bundle-path").await?);
    // Saved where a person looks (no Downloads folder here: the home folder), with the ways to
    // find it on screen beside the message.
    assert_eq!(
        bundle.parent(),
        Some(desk.home.as_path()),
        "{}",
        bundle.display()
    );
    assert!(app.shown("#about-reveal").await? && app.shown("#about-copy-path").await?);
    app.click("#about-reveal").await?;
    let want = format!("file://{}", bundle.display());
    let t0 = Instant::now();
    while !desk.files.shown().contains(&want) && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        desk.files.shown(),
        vec![want],
        "Show in folder asks the file manager"
    );
    app.click("#about-copy-path").await?;
    app.until(
        "document.querySelector('#about-copied').textContent !== ''",
        Duration::from_secs(5),
        "the copy's confirmation",
    )
    .await?;
    assert_eq!(app.text("#about-copied").await?, "Path copied.");
    let clip = std::process::Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()?;
    assert_eq!(
        String::from_utf8_lossy(&clip.stdout),
        bundle.display().to_string(),
        "the clipboard holds the path"
    );
    app.shot("about-saved").await?;
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&bundle)?)?;
    assert_eq!(b["status"]["active_store"], "classic");
    assert_eq!(
        b["daemon_json"]["registry-mirrors"][0],
        "https://mirror.example.com"
    );
    // The diagnosis is in it: every check with its status and evidence.
    let checks = b["checks"]
        .as_array()
        .ok_or(format!("checks: {}", b["checks"]))?;
    assert!(checks.len() >= 3, "{}", b["checks"]);
    assert!(
        checks
            .iter()
            .all(|c| c["id"].is_string() && c["status"].is_string() && c["evidence"].is_object()),
        "{}",
        b["checks"]
    );

    // Dark theme at 800x600: nothing breaks.
    app.open("general").await?;
    eprintln!("e2e: dark theme at 800x600");
    app.c.set_window_size(800, 600).await?;
    app.js("(() => { const s = document.querySelector('#pref-theme'); s.value = 'dark'; s.dispatchEvent(new Event('change')); return true; })()").await?;
    app.until(
        "document.documentElement.dataset.theme === 'dark'",
        Duration::from_secs(5),
        "the dark theme",
    )
    .await?;
    // The dark colours are on screen (the page's background, its text).
    assert_eq!(
        app.js("[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]")
            .await?,
        json!(["rgb(22, 25, 29)", "rgb(230, 233, 237)"])
    );
    app.open("features").await?;
    let overflow = app.js("document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('.sidebar').getBoundingClientRect().right < document.querySelector('#page').getBoundingClientRect().left + 1").await?;
    assert_eq!(overflow, json!(true), "no horizontal overflow at 800x600");
    app.audit("the Features page, dark, 800x600").await?;
    app.shot("features-dark-800x600").await?;
    // The plan's NOTE badge in the dark theme: a badge, readable.
    app.click(FEATURE).await?;
    app.until(
        "!!document.querySelector('#plan-apply')",
        Duration::from_secs(30),
        "the plan, dark",
    )
    .await?;
    note_badge_reads_as_a_badge(app, "dark").await?;
    app.audit("the Features page with a plan, dark, 800x600")
        .await?;
    app.click("#plan-cancel").await?;
    app.until(
        "document.querySelector('#plan').hidden",
        Duration::from_secs(10),
        "the plan cancelled",
    )
    .await?;
    // About at 800x600: its paths wrap at "/" (they were seen broken as "stowag e/logs").
    app.open("about").await?;
    paths_break_at_slashes(app, "#about-log-dir .path, #about-settings-file .path").await?;
    for page in ["images", "diagnostics"] {
        app.open(page).await?;
        let overflow = app.js("document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('#page').scrollWidth <= document.querySelector('#page').clientWidth").await?;
        assert_eq!(
            overflow,
            json!(true),
            "no horizontal overflow on {page} at 800x600"
        );
        if page == "images" {
            // The hidden store's badge ("Hidden, not lost") is among what the audit's contrast
            // check reads in the dark theme.
            app.audit("the Images page, dark, 800x600").await?;
        }
    }
    app.open("general").await?;
    app.js("(() => { const s = document.querySelector('#pref-theme'); s.value = 'system'; s.dispatchEvent(new Event('change')); return true; })()").await?;
    // The theme is applied once it is saved: only then may the test write the settings too.
    app.until(
        "document.documentElement.dataset.theme === 'system'",
        Duration::from_secs(5),
        "the system theme",
    )
    .await?;
    app.c.set_window_size(900, 640).await?;

    reclaim(app, d).await?;
    rollback(app, d).await
}

/// First launch (no `first_run_done` in this STOWAGE_HOME): the wizard greets the user, runs the
/// checks for both stores, says what a switch would hide, and ends keeping the store.
async fn wizard(app: &App, d: &PrivateDaemon) -> Result {
    let settings = d.stowage_home.join("config/settings.toml");
    assert!(
        !std::fs::read_to_string(&settings)
            .unwrap_or_default()
            .contains("first_run_done = true"),
        "a first launch"
    );
    let mut took = app
        .until(
            "document.body.dataset.page === 'wizard' && ['explain', 'pick_engine'].includes(document.querySelector('#wizard')?.dataset.step)",
            Duration::from_secs(60),
            "the wizard's findings",
        )
        .await?;
    if app
        .js("document.querySelector('#wizard').dataset.step")
        .await?
        == json!("pick_engine")
    {
        // More engines on this machine: the managed one is offered first, named as people know it.
        let picked = app
            .js("(() => { const r = document.querySelector('input[name=wizard-engine]:checked'); return document.getElementById(r.id + '-desc').textContent; })()")
            .await?;
        assert!(
            picked.as_str().unwrap_or_default().starts_with(&d.host()),
            "{picked}"
        );
        app.click("#wizard-next").await?;
        took += app
            .until(
                "document.querySelector('#wizard')?.dataset.step === 'explain'",
                Duration::from_secs(60),
                "the wizard's findings",
            )
            .await?;
    }
    eprintln!(
        "e2e: wizard: engines detected and both stores checked in {:.1} s",
        took.as_secs_f64()
    );
    let text = app.text("#wizard").await?;
    assert!(text.contains("runs the classic image store"), "{text}");
    // A store with no problem found says so in words, not "Nothing known".
    assert!(!text.contains("Nothing known"), "{text}");
    for id in ["#wizard-problems-now", "#wizard-problems-switching"] {
        let t = app.text(id).await?;
        let tag = app
            .js(&format!("document.querySelector('{id}').tagName"))
            .await?;
        if tag == json!("P") {
            assert!(
                t.starts_with("No check found a problem with the "),
                "{id}: {t}"
            );
        } else {
            assert!(t.contains(": "), "a list of findings, each named: {t}");
        }
    }
    assert!(
        text.contains("would hide 1 image and 0 containers of the classic store"),
        "{text}"
    );
    // The focused step heading is not drawn like a text field.
    let outline = app.js("(() => { const t = document.querySelector('#wizard-title'); t.focus(); return getComputedStyle(t).outlineStyle; })()").await?;
    assert_eq!(
        outline,
        json!("none"),
        "the wizard's heading has no field-like ring"
    );
    app.audit("the wizard").await?;
    app.shot("wizard").await?;
    app.click("#wizard-next").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'choose_store'",
        Duration::from_secs(20),
        "the store choice",
    )
    .await?;
    // The recommended store is the one chosen, and marked as such.
    let recommended = app
        .js("document.querySelector('input[name=wizard-store]:checked')?.id")
        .await?;
    let recommended = recommended.as_str().unwrap_or_default().to_string();
    let label = app.text(&format!("label[for={recommended}]")).await?;
    assert!(
        label.ends_with("recommended"),
        "the chosen option is the recommended one: {label}"
    );
    let why = app.text("#wizard-why").await?;
    let store = if recommended == "wizard-store-keep" {
        "classic"
    } else {
        "containerd"
    };
    assert!(
        why.starts_with(&format!("Recommended: the {store} store.")),
        "{why} / {recommended}"
    );
    assert!(
        !why.contains("Wasm"),
        "no promise Features cannot keep: {why}"
    );
    // Back and forth works.
    app.click("#wizard-back").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'explain'",
        Duration::from_secs(20),
        "the findings again",
    )
    .await?;
    app.click("#wizard-next").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'choose_store'",
        Duration::from_secs(20),
        "the store choice again",
    )
    .await?;
    // Why it recommends what it does.
    let why = app.text("#wizard-why").await?;
    assert!(
        why.contains("No check fails with the containerd store")
            || why.contains("With the containerd store, "),
        "{why}"
    );
    app.shot("wizard-choose").await?;
    // Switching offers the images it would hide, with their sizes and a select-all.
    app.click("#wizard-store-containerd").await?;
    app.click("#wizard-next").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'offer_migration' && !!document.querySelector('#wizard-plan-apply')",
        Duration::from_secs(30),
        "the switch's plan",
    )
    .await?;
    // The switch's plan, as the Features page shows it: nothing runs, so nothing stops.
    let plan = app.text("#wizard-plan-summary").await?;
    assert!(
        plan.contains("No containers are running: none will stop."),
        "{plan}"
    );
    assert_eq!(app.text("#wizard-plan-apply").await?, "Switch");
    let image = app.text("label[for=wizard-migrate-0]").await?;
    assert!(
        image.starts_with("made-in-classic:1 (") && image.ends_with("B)"),
        "{image}"
    );
    assert_eq!(
        app.text("#wizard-migrate-total").await?,
        "No image selected: the switch copies nothing."
    );
    app.click("#wizard-migrate-all").await?;
    assert!(app.checked("#wizard-migrate-0").await?);
    let total = app.text("#wizard-migrate-total").await?;
    assert!(total.starts_with("1 of 1 image selected ("), "{total}");
    app.audit("the wizard's migration offer").await?;
    app.shot("wizard-migrate").await?;
    // Back, and keep the store after all.
    assert_eq!(app.text("#wizard-plan-cancel").await?, "Back");
    app.click("#wizard-plan-cancel").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'choose_store'",
        Duration::from_secs(20),
        "the store choice, once more",
    )
    .await?;
    app.click("#wizard-store-keep").await?;
    app.click("#wizard-next").await?;
    app.until(
        "document.querySelector('#wizard')?.dataset.step === 'done'",
        Duration::from_secs(20),
        "the wizard's end",
    )
    .await?;
    let summary = app.text("#wizard-summary").await?;
    assert!(summary.contains("Kept the classic store"), "{summary}");
    let saved = std::fs::read_to_string(&settings)?;
    assert!(saved.contains("first_run_done = true"), "{saved}");
    assert!(!uses_containerd(d));
    assert_eq!(app.text("#wizard-finish").await?, "Finish");
    app.click("#wizard-finish").await?;
    app.until(
        "document.body.dataset.page === 'general'",
        Duration::from_secs(10),
        "the General page",
    )
    .await?;
    Ok(())
}

/// Diagnostics: the checks for the running store, then "if I switch": the registry-mirrors fix
/// previews the hosts.toml it would write, and applies it; Mute and Unmute.
async fn diagnostics(app: &App, d: &PrivateDaemon) -> Result {
    let original = std::fs::read_to_string(&d.config_file)?;
    app.open("diagnostics").await?;
    app.until(
        "!!document.querySelector('#check-registry-mirrors') && document.querySelector('#checks').getAttribute('aria-busy') === 'false'",
        Duration::from_secs(60),
        "the checks",
    )
    .await?;
    // The mirror is probed through the engine: mirror.example.com does not resolve here, so the
    // check fails, on screen (a failure is never folded away), in people's words: what is wrong
    // and what fixes it; the engine's own error stays in the evidence.
    assert_eq!(
        app.js("document.querySelector('#check-registry-mirrors').dataset.status")
            .await?,
        json!("fail")
    );
    assert!(app.shown("#check-registry-mirrors").await?);
    let now = app.text("#check-registry-mirrors .summary").await?;
    assert!(
        now.contains("the engine's probe failed for mirror.example.com (mirror): the name mirror.example.com does not resolve (DNS): correct the address in daemon.json"),
        "{now}"
    );
    assert!(
        !now.contains("dial tcp") && !now.contains("lookup ") && !now.contains("failed to"),
        "no raw Go error in the summary: {now}"
    );
    // A hosts.toml fixes nothing for a registry that is not there: not offered; what does fix
    // it is (the core's same words).
    assert!(
        !app.shown("#fix-registry-mirrors").await?,
        "no hosts.toml fix for a name that does not resolve"
    );
    let fixes = app.text("#check-registry-mirrors .fixes").await?;
    assert!(
        fixes.contains("mirror.example.com: the name mirror.example.com does not resolve"),
        "{fixes}"
    );
    // No command-line flag anywhere on the page (the app has none to pass).
    let page = app.text("#checks").await?;
    assert!(!page.contains("--probe-image"), "{page}");
    diagnostics_summary_agrees(app).await?;

    app.click("#diag-if-switching").await?;
    app.until(
        "document.querySelector('#diag-note').textContent.includes('if you switched') && document.querySelector('#checks').getAttribute('aria-busy') === 'false' && !!document.querySelector('#check-registry-mirrors')",
        Duration::from_secs(60),
        "the checks for the containerd store",
    )
    .await?;
    // A check that passed offers no fix; the registry settings cannot be probed for a store that
    // does not run: unverified, and failing already on this one.
    assert_eq!(
        app.js("document.querySelectorAll('#checks article.check[data-status=ok] .fixes, #checks article.check[data-status=skipped] .fixes').length").await?,
        json!(0),
        "no fix on a check that passed"
    );
    assert_eq!(
        app.js("document.querySelector('#check-registry-mirrors').dataset.status")
            .await?,
        json!("fail")
    );
    assert!(app
        .text("#check-registry-mirrors")
        .await?
        .contains("unverified for the containerd store until the switch"));
    assert!(!app.shown("#fix-registry-mirrors").await?);
    diagnostics_summary_agrees(app).await?;
    // Images the switch would hide: the fix leads to the app's own Migrate, not a command line.
    assert_eq!(
        app.text("#fix-action-hidden-images").await?,
        "Open Images → Migrate"
    );
    assert!(!app
        .text("#check-hidden-images")
        .await?
        .contains("stowctl migrate"));

    // An insecure registry nobody listens at: the connection is refused, and the page says what
    // fixes that (start it, or correct the address), with no hosts.toml offer.
    let mut doc: Value = serde_json::from_str(&original)?;
    doc.as_object_mut().unwrap().remove("registry-mirrors");
    doc["insecure-registries"] = json!(["127.0.0.1:5999"]);
    std::fs::write(&d.config_file, serde_json::to_string_pretty(&doc)?)?;
    rerun_checks(app).await?;
    let refused = app.text("#check-registry-mirrors .summary").await?;
    assert!(
        refused.contains("127.0.0.1:5999 (insecure): the registry is not listening at 127.0.0.1:5999 (the connection was refused): start it, or correct the address in daemon.json"),
        "{refused}"
    );
    assert!(!refused.contains("dial tcp"), "{refused}");
    assert!(
        !app.shown("#fix-registry-mirrors").await?,
        "no hosts.toml fix for a refused connection"
    );
    assert!(app
        .text("#check-registry-mirrors .fixes")
        .await?
        .contains("start it, or correct the address in daemon.json"));

    // A registry that answers: before a switch its hosts.toml is offered, and the preview says,
    // before anything is applied, that /etc/docker/certs.d is every rootful engine's.
    let reg = stowage_tests::registry::LocalRegistry::start();
    doc["insecure-registries"] = json!([reg.host]);
    std::fs::write(&d.config_file, serde_json::to_string_pretty(&doc)?)?;
    rerun_checks(app).await?;
    app.until(
        "!!document.querySelector('#fix-registry-mirrors')",
        Duration::from_secs(30),
        "the hosts.toml fix for a registry that answers",
    )
    .await?;
    app.click("#fix-registry-mirrors").await?;
    app.until(
        "!!document.querySelector('#fix-apply')",
        Duration::from_secs(30),
        "the fix's preview",
    )
    .await?;
    let preview = app.text("#fix-preview-registry-mirrors").await?;
    assert!(preview.contains("hosts.toml"), "{preview}");
    assert!(preview.contains(&reg.host), "{preview}");
    assert!(app.shown("#fix-notes").await?, "the note is on screen");
    let note = app.text("#fix-notes").await?;
    assert!(
        note.starts_with("/etc/docker/certs.d is the machine's own folder: every rootful Docker Engine on this machine reads it")
            && note.contains("docker.service"),
        "{note}"
    );
    // ... above the Apply button.
    let above = app.js("document.querySelector('#fix-notes').getBoundingClientRect().bottom <= document.querySelector('#fix-apply').getBoundingClientRect().top").await?;
    assert_eq!(above, json!(true), "the note comes before Apply");
    app.js("document.querySelector('#fix-preview-registry-mirrors').scrollIntoView()")
        .await?;
    app.audit("the Diagnostics page").await?;
    app.shot("diagnostics").await?;
    app.click("#fix-apply").await?;
    app.until(
        "!!document.querySelector('#fix-outcome[data-outcome]')",
        Duration::from_secs(60),
        "the fix's outcome",
    )
    .await?;
    let outcome = app.text("#fix-outcome").await?;
    assert_eq!(
        app.js("document.querySelector('#fix-outcome').dataset.outcome")
            .await?,
        "applied",
        "{outcome}"
    );
    // The check ran again once the files were in place, and says what it found.
    assert!(
        outcome.contains("Probed again: ") && outcome.contains(&reg.host),
        "{outcome}"
    );
    // The fix's progress sits with its check, every step ticked, and in view.
    app.until(
        "document.querySelector('#checks').getAttribute('aria-busy') === 'false' && !!document.querySelector('#check-registry-mirrors #fix-outcome')",
        Duration::from_secs(60),
        "the fix's outcome beside its check",
    )
    .await?;
    assert_eq!(
        app.js("[...document.querySelectorAll('#fix-stages li')].map(li => li.dataset.stage + ':' + li.dataset.state)")
            .await?,
        json!(["done:finished"])
    );
    assert!(app.shown("#fix-outcome").await?);
    let certs = d.etc_docker().join("certs.d");
    let written: Vec<_> = walk(&certs)
        .into_iter()
        .filter(|p| p.ends_with("hosts.toml"))
        .collect();
    assert!(!written.is_empty(), "hosts.toml under {}", certs.display());
    let toml = std::fs::read_to_string(&written[0])?;
    assert!(toml.contains(&reg.host), "{toml}");
    // Mute, then unmute: offered on a check that warns or fails, never on one that passed.
    app.until(
        "!!document.querySelector('#mute-registry-mirrors') && document.querySelector('#checks').getAttribute('aria-busy') === 'false'",
        Duration::from_secs(60),
        "the checks again",
    )
    .await?;
    diagnostics_summary_agrees(app).await?;
    app.click("#mute-registry-mirrors").await?;
    app.until(
        "document.querySelector('#check-registry-mirrors')?.dataset.muted === 'true'",
        Duration::from_secs(60),
        "the muted check",
    )
    .await?;
    assert!(app
        .text("#mute-registry-mirrors")
        .await?
        .starts_with("Unmute"));
    diagnostics_summary_agrees(app).await?;
    app.click("#mute-registry-mirrors").await?;
    app.until(
        "document.querySelector('#check-registry-mirrors')?.dataset.muted === 'false'",
        Duration::from_secs(60),
        "the unmuted check",
    )
    .await?;

    // A fix through daemon.json and a restart: its stages show in the order they happen, done
    // last (never "Done" above "Validating daemon.json").
    app.click("#diag-if-switching").await?;
    app.until(
        "document.querySelector('#checks').getAttribute('aria-busy') === 'false' && !document.querySelector('#diag-note').textContent.includes('if you switched')",
        Duration::from_secs(60),
        "the checks for the running store",
    )
    .await?;
    doc["iptables"] = json!(false);
    std::fs::write(&d.config_file, serde_json::to_string_pretty(&doc)?)?;
    rerun_checks(app).await?;
    app.until(
        "!!document.querySelector('#fix-flag-and-file-conflict')",
        Duration::from_secs(30),
        "the flag-and-file fix",
    )
    .await?;
    app.click("#fix-flag-and-file-conflict").await?;
    app.until(
        "!!document.querySelector('#fix-apply')",
        Duration::from_secs(30),
        "the daemon.json fix's preview",
    )
    .await?;
    app.click("#fix-apply").await?;
    // What a person sees while it runs: the planned stages in order, done last.
    let listed = app
        .js("[...document.querySelectorAll('#fix-stages li')].map(li => li.dataset.stage)")
        .await?;
    let listed: Vec<String> = serde_json::from_value(listed)?;
    assert_eq!(
        listed.last().map(String::as_str),
        Some("done"),
        "{listed:?}"
    );
    assert_eq!(
        listed.first().map(String::as_str),
        Some("validating"),
        "{listed:?}"
    );
    app.until(
        "!!document.querySelector('#fix-outcome[data-outcome]')",
        Duration::from_secs(120),
        "the daemon.json fix's outcome",
    )
    .await?;
    assert_eq!(
        app.js("document.querySelector('#fix-outcome').dataset.outcome")
            .await?,
        "applied",
        "{}",
        app.text("#fix-outcome").await?
    );
    let shown = app
        .js("[...document.querySelectorAll('#fix-stages li')].map(li => [li.dataset.stage, li.dataset.state, li.querySelector('.stage-name').innerText, li.querySelector('.stage-ms').innerText])")
        .await?;
    let shown: Vec<(String, String, String, String)> = serde_json::from_value(shown)?;
    let order: Vec<&str> = shown.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        order,
        [
            "validating",
            "writing_config",
            "stopping",
            "starting",
            "waiting_for_api",
            "verifying_store",
            "done"
        ],
        "{shown:?}"
    );
    assert!(shown.iter().all(|s| s.1 == "finished"), "{shown:?}");
    assert_eq!(shown[0].2, "Validating daemon.json");
    assert_eq!(shown.last().unwrap().2, "Done");
    eprintln!("e2e: the daemon.json fix's stages: {shown:?}");
    let stop_s: f64 = shown[2]
        .3
        .trim_end_matches(" s")
        .parse()
        .unwrap_or(f64::MAX);
    assert!(
        stop_s < 4.0,
        "stopping a dockerd with no containers takes no fixed wait: {shown:?}"
    );
    std::fs::write(&d.config_file, &original)?;
    drop(reg);

    // The Migrate fix opens the Images page.
    app.click("#diag-if-switching").await?;
    app.until(
        "document.querySelector('#diag-note').textContent.includes('if you switched') && !!document.querySelector('#fix-action-hidden-images')",
        Duration::from_secs(60),
        "the checks for the containerd store again",
    )
    .await?;
    app.click("#fix-action-hidden-images").await?;
    app.until(
        "document.body.dataset.page === 'images' && document.querySelector('#page-title').textContent === 'Images'",
        Duration::from_secs(10),
        "the Images page from the fix",
    )
    .await?;
    Ok(())
}

/// Re-runs the checks from the page and waits for them.
async fn rerun_checks(app: &App) -> Result {
    app.click("#diag-rerun").await?;
    app.until(
        "document.querySelector('#checks').getAttribute('aria-busy') === 'false' && !document.querySelector('#diag-rerun').disabled && !!document.querySelector('#check-registry-mirrors')",
        Duration::from_secs(60),
        "the checks to run again",
    )
    .await?;
    Ok(())
}

/// The counts on screen agree with the checks listed: the summary counts each card once (not
/// applicable and muted ones named), the folded list's heading the same numbers; Mute is offered
/// only on a check that warns, fails or could not check (Unmute on a muted one).
async fn diagnostics_summary_agrees(app: &App) -> Result {
    let cards = app
        .js("[...document.querySelectorAll('#checks article.check')].map(a => [a.dataset.muted === 'true' ? 'muted' : a.dataset.status, !!a.closest('#diag-passed'), !!a.querySelector('[id^=mute-]')])")
        .await?;
    let cards: Vec<(String, bool, bool)> = serde_json::from_value(cards)?;
    let n = |s: &str| cards.iter().filter(|c| c.0 == s).count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut want = vec![
        plural(n("fail"), "problem", "problems"),
        plural(n("warn"), "warning", "warnings"),
        format!("{} OK", n("ok")),
        format!("{} not applicable", n("skipped")),
    ];
    if n("error") > 0 {
        want.push(format!("{} could not be checked", n("error")));
    }
    if n("muted") > 0 {
        want.push(format!("{} muted", n("muted")));
    }
    assert_eq!(
        app.text("#diag-summary").await?,
        want.join(", "),
        "{cards:?}"
    );
    let folded: Vec<&(String, bool, bool)> = cards.iter().filter(|c| c.1).collect();
    assert!(
        folded.iter().all(|c| c.0 == "ok" || c.0 == "skipped"),
        "{cards:?}"
    );
    if !folded.is_empty() {
        let heading = app.text("#diag-passed > summary").await?;
        let (ok, na) = (n("ok"), n("skipped"));
        let want = match (ok, na) {
            (ok, 0) => format!("{ok} passed"),
            (0, na) => format!("{na} not applicable"),
            (ok, na) => format!("{ok} passed, {na} not applicable"),
        };
        assert_eq!(heading, want, "{cards:?}");
    }
    for (status, _, mute) in &cards {
        let offers = matches!(status.as_str(), "warn" | "fail" | "error" | "muted");
        assert_eq!(*mute, offers, "Mute on a {status} check: {cards:?}");
    }
    Ok(())
}

/// Images: copy the classic store's image to the containerd store, with its steps shown as they
/// run; the engine ends on the classic store, and both stores list the image.
async fn migration(app: &App, d: &PrivateDaemon) -> Result {
    app.open("images").await?;
    assert_eq!(app.text("#store-classic-state").await?, "Active");
    app.click("li.image[data-ref='made-in-classic:1'][data-store='classic'] input")
        .await?;
    app.click("#images-migrate").await?;
    app.until(
        "!!document.querySelector('#migration-plan-apply')",
        Duration::from_secs(30),
        "the migration plan",
    )
    .await?;
    // The classic store runs: its images stream into containerd's content store, no restart.
    let plan = app.text("#migration-plan").await?;
    assert!(
        plan.contains("The engine keeps running the classic store: no restart, nothing stops."),
        "{plan}"
    );
    assert_eq!(app.text("#migration-plan-apply").await?, "Migrate");
    let pid = d.current_pid();
    let t0 = Instant::now();
    app.click("#migration-plan-apply").await?;
    app.until(
        "!!document.querySelector('#migration-outcome[data-outcome]')",
        Duration::from_secs(180),
        "the migration's outcome",
    )
    .await?;
    let outcome = app.text("#migration-outcome").await?;
    assert_eq!(
        app.js("document.querySelector('#migration-outcome').dataset.outcome")
            .await?,
        "applied",
        "{outcome}"
    );
    assert!(outcome.contains("verified"), "{outcome}");
    let steps = app
        .js("document.querySelectorAll('#migration-stages li').length")
        .await?;
    assert!(steps.as_u64().unwrap_or(0) >= 2, "steps shown: {steps}");
    assert_eq!(d.current_pid(), pid, "the engine was not restarted");
    // Step names are sentences (capitalised).
    let names = app.js("[...document.querySelectorAll('#migration-stages .stage-name')].map(s => s.textContent)").await?;
    for n in names.as_array().into_iter().flatten() {
        let n = n.as_str().unwrap_or_default();
        assert!(
            n.chars().next().is_some_and(char::is_uppercase),
            "step {n:?} in {names}"
        );
    }
    eprintln!(
        "e2e: migration to the containerd store took {:.1} s, {steps} steps shown",
        t0.elapsed().as_secs_f64()
    );
    app.until(
        "(document.querySelector('#store-containerd')?.textContent ?? '').includes('made-in-classic:1')",
        Duration::from_secs(20),
        "the copy in the containerd store",
    )
    .await?;
    assert!(!uses_containerd(d), "the engine ends on the classic store");
    app.js("document.querySelector('#migration-outcome').scrollIntoView()")
        .await?;
    app.shot("images-migrated").await?;
    Ok(())
}

/// Images: "Free …" on the hidden containerd store (it holds the migrated copy): the plan names
/// what goes and what switching back will show, the button waits for the store's name, and the
/// store is empty afterwards, on screen and in containerd; the classic store keeps its image.
async fn reclaim(app: &App, d: &PrivateDaemon) -> Result {
    app.open("images").await?;
    assert_eq!(
        app.text("#store-containerd-state").await?,
        "Hidden, not lost"
    );
    let free = app.text("#store-containerd-reclaim").await?;
    assert!(free.starts_with("Free ") && free.ends_with("B…"), "{free}");
    app.click("#store-containerd-reclaim").await?;
    app.until(
        "!!document.querySelector('#reclaim-run')",
        Duration::from_secs(30),
        "the reclaim plan",
    )
    .await?;
    let summary = app.text("#reclaim-summary").await?;
    assert!(
        summary.starts_with("Deletes 1 image of the containerd store, ")
            && summary.ends_with("The engine runs the classic store, which is not touched."),
        "{summary}"
    );
    assert!(app
        .text("#reclaim-images")
        .await?
        .contains("made-in-classic:1"));
    assert_eq!(
        app.text("#reclaim-warning").await?,
        "This deletes 1 image of the containerd store for good: switching back to the containerd store afterwards will show an empty store."
    );
    // The button waits for the store's name, exactly.
    let disabled = "document.querySelector('#reclaim-run').disabled";
    assert_eq!(app.js(disabled).await?, json!(true));
    let input = app.c.find(Locator::Css("#reclaim-confirm")).await?;
    input.send_keys("classic").await?;
    assert_eq!(
        app.js(disabled).await?,
        json!(true),
        "the other store's name does not confirm"
    );
    input.clear().await?;
    input.send_keys("containerd").await?;
    app.until(
        &format!("!{disabled}"),
        Duration::from_secs(5),
        "the enabled button",
    )
    .await?;
    app.audit("the reclaim plan").await?;
    app.shot("images-reclaim").await?;
    app.click("#reclaim-run").await?;
    app.until(
        "!!document.querySelector('#reclaim-outcome[data-outcome]')",
        Duration::from_secs(120),
        "the reclaim's outcome",
    )
    .await?;
    let outcome = app.text("#reclaim-outcome").await?;
    assert_eq!(
        app.js("document.querySelector('#reclaim-outcome').dataset.outcome")
            .await?,
        "applied",
        "{outcome}"
    );
    assert!(
        app.text("#reclaim-message")
            .await?
            .starts_with("The containerd store is empty: 1 image and 0 containers deleted, freed "),
        "{outcome}"
    );
    let steps = app
        .js("document.querySelectorAll('#reclaim-steps li').length")
        .await?;
    assert!(steps.as_u64().unwrap_or(0) >= 2, "steps shown: {steps}");
    app.until(
        "(document.querySelector('#store-containerd')?.textContent ?? '').includes('No images.')",
        Duration::from_secs(20),
        "the emptied store on screen",
    )
    .await?;
    assert!(
        !app.shown("#store-containerd-reclaim").await?,
        "nothing left to free"
    );
    // For real: the containerd store holds nothing; the classic store keeps its image.
    let v: Value =
        serde_json::from_slice(&d.stowctl_ok(&["images", "--store", "all", "--json"]).stdout)?;
    let stores: Vec<&str> = v["images"]
        .as_array()
        .ok_or("images")?
        .iter()
        .filter_map(|i| i["store"].as_str())
        .collect();
    assert!(
        !stores.is_empty() && stores.iter().all(|s| *s == "classic"),
        "{v}"
    );
    Ok(())
}

/// The NOTE badge of a plan's finding (severity info) reads as a badge: filled (not the page's
/// or the card's background, no text-field border), its text at a contrast of 4.5:1 or more.
async fn note_badge_reads_as_a_badge(app: &App, theme: &str) -> Result {
    let got = app
        .js(r#"(() => {
            const tag = document.querySelector('#plan .finding.info .tag');
            if (!tag || tag.getClientRects().length === 0) return null;
            const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
            const lum = ([r, g, b]) => {
                const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const s = getComputedStyle(tag);
            const card = getComputedStyle(tag.closest('.card') ?? document.body).backgroundColor;
            const bg = rgb(s.backgroundColor), fg = rgb(s.color);
            const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
            return { text: tag.innerText, bg: s.backgroundColor, card, alpha: bg.length > 3 ? bg[3] : 1,
                     border: s.borderTopStyle + ' ' + s.borderTopWidth, contrast: (a + 0.05) / (b + 0.05) };
        })()"#)
        .await?;
    if got.is_null() {
        return Err(format!("no NOTE badge on screen in the {theme} theme").into());
    }
    eprintln!("e2e: the NOTE badge, {theme}: {got}");
    assert_eq!(got["text"], "NOTE", "{got}");
    assert!(
        got["alpha"].as_f64() == Some(1.0) && got["bg"] != got["card"],
        "a filled badge, not the card's background: {got}"
    );
    assert!(
        got["border"]
            .as_str()
            .unwrap_or_default()
            .starts_with("none")
            || got["border"].as_str().unwrap_or_default().ends_with(" 0px"),
        "no text-field border: {got}"
    );
    assert!(
        got["contrast"].as_f64().unwrap_or(0.0) >= 4.5,
        "contrast {got}"
    );
    Ok(())
}

/// Every line break inside the paths `css` falls right after a "/" (never mid-word), and
/// they fit their box.
async fn paths_break_at_slashes(app: &App, css: &str) -> Result {
    let got = app
        .js(&format!(
            r#"(() => {{
            const out = [];
            for (const el of document.querySelectorAll({sel})) {{
                const text = el.textContent;
                const r = document.createRange();
                let top = null, breaks = [];
                let i = 0;
                const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                for (let n = walker.nextNode(); n; n = walker.nextNode()) {{
                    for (let k = 0; k < n.length; k++, i++) {{
                        r.setStart(n, k); r.setEnd(n, k + 1);
                        const rects = r.getClientRects();
                        if (!rects.length) continue;
                        const t = Math.round(rects[0].top);
                        if (top !== null && t > top + 2) breaks.push(text[i - 1]);
                        top = t;
                    }}
                }}
                const box = el.closest('dd') ?? el.parentElement;
                out.push({{ text, breaks, fits: el.getBoundingClientRect().right <= box.getBoundingClientRect().right + 1 }});
            }}
            return out;
        }})()"#,
            sel = json!(css)
        ))
        .await?;
    let list = got.as_array().cloned().unwrap_or_default();
    assert!(!list.is_empty(), "no path on screen for {css}");
    eprintln!("e2e: paths and where they break: {got}");
    for p in &list {
        for b in p["breaks"].as_array().into_iter().flatten() {
            assert_eq!(b, "/", "a path broken mid-word: {p}");
        }
        assert_eq!(p["fits"], json!(true), "{p}");
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Polls the tray menu until `ok` holds.
async fn tray_until(
    tray: &e2e::TrayMenu,
    ok: impl Fn(&[e2e::TrayEntry]) -> bool,
    what: &str,
) -> Result<Vec<e2e::TrayEntry>> {
    let start = Instant::now();
    loop {
        let layout = tray.layout();
        if ok(&layout) {
            return Ok(layout);
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(format!("the tray never showed {what}: {layout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const TOGGLE: &str = "Use containerd image store";

fn toggle_state(layout: &[e2e::TrayEntry]) -> Option<i32> {
    layout
        .iter()
        .find(|e| e.label == TOGGLE)
        .and_then(|e| e.toggle)
}

/// The tray as a StatusNotifier host sees it over D-Bus: its status line and check item follow
/// the engine; its toggle runs the same plan, asking in the window first when the switch hides
/// images, and applying at once when it hides nothing.
async fn tray(app: &App, d: &PrivateDaemon) -> Result {
    let env = format!("STOWAGE_HOME={}", d.stowage_home.display());
    let pid = *e2e::pids_of(&e2e::app_bin(), &env)
        .first()
        .ok_or("the app's process was not found")?;
    let tray = e2e::TrayMenu::find(pid).ok_or("the app exports no tray menu on the session bus")?;
    let layout = tray_until(&tray, |l| toggle_state(l) == Some(0), "the classic store").await?;
    assert!(layout[0].label.ends_with("· classic store"), "{layout:?}");
    // The engine named as the window names it (one label, from the core).
    let chip = app.text("#engine-chip").await?;
    let label = chip.split(" · ").next().unwrap_or_default().to_string();
    assert!(
        layout[0].label.starts_with(&format!("{label} · Docker ")),
        "the tray says {:?}, the window {chip:?}",
        layout[0].label
    );
    let ids: Vec<&str> = layout
        .iter()
        .map(|e| e.label.as_str())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        ids[1..],
        [
            TOGGLE,
            "Restart engine",
            "Run checks",
            "Open Settings",
            "Quit"
        ]
    );
    let icon_classic = tray.icon();
    let shape_classic = tray
        .icon_shape()
        .ok_or("the tray's classic icon could not be read")?;
    let id = tray.entry(TOGGLE).ok_or("no toggle")?.id;

    eprintln!("e2e: tray: use containerd (hides the classic image: asks first)");
    assert!(tray.click(id));
    app.until(
        "document.body.dataset.page === 'features' && !!document.querySelector('#plan-apply')",
        Duration::from_secs(30),
        "the tray's plan in the window",
    )
    .await?;
    let plan = app.text("#plan").await?;
    assert!(plan.contains("You asked for this from the tray"), "{plan}");
    // What it hides, said once (highlighted, not repeated in the list above it).
    assert_eq!(
        app.text("#plan-hidden").await?,
        "Switching from the classic store to the containerd store hides 1 image and 0 containers of the classic store. They are not deleted: they come back when you switch back."
    );
    assert_eq!(plan.matches("hides 1 image").count(), 1, "{plan}");
    assert!(
        !uses_containerd(d),
        "nothing happens before the confirmation"
    );
    app.shot("features-tray-confirm").await?;
    let (outcome, _) = apply_and_wait(app).await?;
    assert_eq!(outcome, "applied");
    assert!(uses_containerd(d));
    let layout = tray_until(
        &tray,
        |l| toggle_state(l) == Some(1) && l[0].label.ends_with("· containerd store"),
        "the containerd store",
    )
    .await?;
    assert_eq!(toggle_state(&layout), Some(1));
    assert_ne!(tray.icon(), icon_classic, "the icon follows the store");
    // ... by its shape too, not by colour alone (its alpha channel differs).
    let shape_containerd = tray
        .icon_shape()
        .ok_or("the tray's containerd icon could not be read")?;
    assert_ne!(
        shape_containerd, shape_classic,
        "the stores' icons differ in shape"
    );

    eprintln!("e2e: tray: back to classic (hides nothing: applies at once)");
    let t0 = Instant::now();
    assert!(tray.click(id));
    tray_until(
        &tray,
        |l| toggle_state(l) == Some(0) && l[0].label.ends_with("· classic store"),
        "the classic store again",
    )
    .await?;
    assert!(!uses_containerd(d), "Engine API: {}", driver_status(d));
    eprintln!(
        "e2e: tray switch back applied in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // The window showed that change's progress too.
    app.until(
        "document.querySelector('#change-outcome')?.dataset.outcome === 'applied'",
        Duration::from_secs(20),
        "the tray's change in the window",
    )
    .await?;
    Ok(())
}

/// An engine declared in Stowage's settings whose restart command fails (the first time): the
/// window shows "rolled back" with the command's own error, and nothing changed.
async fn rollback(app: &App, d: &PrivateDaemon) -> Result {
    let script = d.dir().join("restart.sh");
    let counter = d.dir().join("restart-calls");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}\n[ \"$n\" -ge 1 ] || {{ echo 'Job for docker.service failed because the control process exited with error code.' >&2; exit 1; }}\n",
            c = counter.display()
        ),
    )?;
    let settings = d.stowage_home.join("config/settings.toml");
    std::fs::create_dir_all(settings.parent().unwrap())?;
    let mut text = std::fs::read_to_string(&settings).unwrap_or_default();
    text.push_str(&format!(
        "\n[[engines]]\nname = \"flaky\"\nkind = \"custom\"\nhost = \"{}\"\nconfig_file = \"{}\"\ndata_root = \"{}\"\nexec_root = \"{}\"\nrestart_command = \"sh {}\"\n",
        d.host(),
        d.config_file.display(),
        d.data_root.display(),
        d.exec_root.display(),
        script.display()
    ));
    std::fs::write(&settings, text)?;
    let before = std::fs::read_to_string(&d.config_file)?;

    app.open("general").await?;
    if let Err(e) = app
        .until(
            "!!document.querySelector('#engine-flaky')",
            Duration::from_secs(20),
            "the declared engine",
        )
        .await
    {
        let text = std::fs::read_to_string(&settings).unwrap_or_default();
        return Err(format!("{e}\nsettings.toml:\n{text}").into());
    }
    app.click("#engine-flaky").await?;
    app.until(
        "document.querySelector('#general-saved').textContent.includes('now manages flaky')",
        Duration::from_secs(20),
        "the engine switch",
    )
    .await?;

    app.open("features").await?;
    app.click(FEATURE).await?;
    let (outcome, _) = apply_and_wait(app).await?;
    assert_eq!(outcome, "rolled_back");
    let shown = app.text("#change-outcome").await?;
    assert!(shown.contains("Rolled back"), "{shown}");
    assert!(
        shown.contains("put the previous daemon.json back"),
        "{shown}"
    );
    assert!(
        shown.contains("Job for docker.service failed"),
        "the command's own error is shown: {shown}"
    );
    let stages = app.js("[...document.querySelectorAll('#change-stages li')].map(li => li.dataset.stage + ':' + li.dataset.state)").await?;
    assert!(
        stages
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "restarting:failed"),
        "{stages}"
    );
    assert!(
        stages
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "rolling_back:finished"),
        "{stages}"
    );
    app.shot("features-rolled-back").await?;
    assert_eq!(
        std::fs::read_to_string(&d.config_file)?,
        before,
        "daemon.json is back byte for byte"
    );
    assert!(!uses_containerd(d));
    // The failing command never stopped the engine: the rollback puts the file back and does
    // not run the same failing command again (core switch::apply, since the engine lock).
    assert_eq!(
        std::fs::read_to_string(&counter)?.trim(),
        "1",
        "the restart command ran once: {shown}\n{stages}"
    );
    assert!(shown.contains("it was not restarted"), "{shown}");
    assert!(Path::new(&d.config_file).exists());
    Ok(())
}

/// daemon.json edited by hand to ask for the other store: the Engine and Features pages say the
/// engine still runs the old one, with "Restart to apply"; putting the file back clears it.
async fn hand_edit_waits_for_restart(app: &App, d: &PrivateDaemon) -> Result {
    let before = std::fs::read_to_string(&d.config_file)?;
    let mut v: Value = serde_json::from_str(&before)?;
    v["features"]["containerd-snapshotter"] = true.into();
    std::fs::write(&d.config_file, serde_json::to_string_pretty(&v)?)?;
    app.open("engine").await?;
    app.until(
        &format!("{} && document.querySelector('#engine-pending').innerText.includes('Restart to apply')", visible("#engine-pending")),
        Duration::from_secs(10),
        "the Engine page to say the hand edit waits for a restart",
    )
    .await?;
    let says = app.text("#engine-pending").await?;
    assert!(
        says.contains("asks for the containerd store, the engine runs the classic store"),
        "{says}"
    );
    assert!(app.shown("#engine-apply-pending").await?);
    app.open("features").await?;
    app.until(
        &visible("#features-pending"),
        Duration::from_secs(10),
        "the Features page to say the hand edit waits for a restart",
    )
    .await?;
    assert_eq!(
        app.text("#features-apply-pending").await?,
        "Restart to apply"
    );
    app.shot("features-pending-edit").await?;
    std::fs::write(&d.config_file, &before)?;
    app.until(
        "!document.querySelector('#features-pending')",
        Duration::from_secs(10),
        "the notice to go once daemon.json is put back",
    )
    .await?;
    Ok(())
}

/// The chosen engine stops: the window keeps it (chip, Engine page, Features page), says
/// "Engine stopped", blocks Apply, offers Start; Start brings it back and every page follows.
async fn stopped_engine_stays_chosen(app: &App, d: &PrivateDaemon) -> Result {
    let chip = app.text("#engine-chip").await?;
    let name = chip.split(" · ").next().unwrap_or_default().to_string();
    assert!(!name.is_empty(), "{chip}");
    let pid = d.current_pid().ok_or("no private dockerd runs")?;
    let t0 = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    // The chip follows at once: the daemon's API socket goes away as soon as it is told to stop
    // (it was seen 4-7 s late, when the process finally exited).
    let seen = app
        .until(
            "document.querySelector('#engine-chip').textContent.includes('Engine stopped')",
            Duration::from_secs(10),
            "the chip to say the engine stopped",
        )
        .await?;
    while d.current_pid().is_some() && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "e2e: the chip said the engine stopped {:.2} s after SIGTERM; dockerd was gone after {:.2} s",
        seen.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        seen < Duration::from_secs(2),
        "the chip said the engine stopped {seen:?} after SIGTERM"
    );
    let chip = app.text("#engine-chip").await?;
    assert!(
        chip.starts_with(&format!("{name} · Engine stopped")),
        "{chip}"
    );
    app.open("engine").await?;
    assert!(app.shown("#engine-stopped").await?);
    let stopped = app.text("#engine-stopped").await?;
    assert!(stopped.starts_with("Engine stopped since "), "{stopped}");
    assert!(app.text("#engine-name").await?.starts_with(&name));
    assert_eq!(
        app.text("#engine-config-file").await?,
        d.config_file.display().to_string(),
        "the chosen engine's daemon.json, not another engine's"
    );
    assert!(app.shown("#engine-start").await?, "Start is offered");
    // The dead dockerd's PID is not named any more: what Start will do is.
    let method = app.text("#engine-restart-method").await?;
    assert!(
        !method.contains(&format!("pid {pid}")) && method.starts_with("start dockerd again"),
        "{method}"
    );
    app.shot("engine-stopped").await?;
    // Features: a plan can be read but not applied, and it edits the chosen engine's file.
    app.open("features").await?;
    assert!(app.shown("#features-stopped").await?);
    let features_stopped = app.text("#features-stopped").await?;
    assert!(
        features_stopped.starts_with(&format!("Engine stopped: {name} does not answer")),
        "the engine named as in the chip: {features_stopped}"
    );
    app.click(FEATURE).await?;
    app.until(
        "!!document.querySelector('#plan-apply')",
        Duration::from_secs(30),
        "the plan",
    )
    .await?;
    let plan = app.text("#plan").await?;
    assert!(!plan.contains("/etc/docker"), "{plan}");
    assert!(
        plan.contains(&d.config_file.display().to_string()),
        "{plan}"
    );
    assert_eq!(
        app.js("document.querySelector('#plan-apply').disabled")
            .await?,
        json!(true),
        "Apply is disabled while the engine is stopped"
    );
    app.click("#plan-cancel").await?;
    // Start: the engine answers again and the pages follow.
    app.open("engine").await?;
    app.click("#engine-start").await?;
    // A start of a stopped engine is a start: its title and stages say so, no stop stage.
    assert_eq!(
        app.text("#restart-progress-title").await?,
        "Starting the engine"
    );
    let stages = app
        .js("[...document.querySelectorAll('#restart-stages li')].map(li => li.querySelector('.stage-name').innerText)")
        .await?;
    assert_eq!(
        stages,
        json!([
            "Starting the engine",
            "Waiting for the engine API",
            "Verifying the image store",
            "Done"
        ])
    );
    app.until(
        "!!document.querySelector('#restart-outcome[data-outcome]')",
        Duration::from_secs(60),
        "the start's outcome",
    )
    .await?;
    assert_eq!(
        app.js("document.querySelector('#restart-outcome').dataset.outcome")
            .await?,
        "applied",
        "{}",
        app.text("#restart-outcome").await?
    );
    assert_eq!(
        app.text("#restart-outcome .outcome-title").await?,
        "Started"
    );
    let said = app.text("#restart-outcome .outcome-message").await?;
    assert!(said.starts_with("The engine started and answers"), "{said}");
    let ran = app
        .js("[...document.querySelectorAll('#restart-stages li')].map(li => li.dataset.stage)")
        .await?;
    assert!(
        !ran.as_array().unwrap().iter().any(|s| s == "stopping"),
        "no stop stage: {ran}"
    );
    assert!(d.current_pid().is_some(), "a dockerd runs again");
    app.until(
        &format!("!document.querySelector('#engine-stopped') && {} && document.querySelector('#engine-chip').textContent.startsWith('{name} · classic store')", visible("#engine-config")),
        Duration::from_secs(10),
        "the Engine page and the chip to show the engine running",
    )
    .await?;
    eprintln!(
        "e2e: stopped engine kept and started again in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// No Docker Engine runs or answers: the app starts its own sandbox engine and says so, on the
/// General and Engine pages, with what becomes of it when the window closes; and that is true:
/// after the app quits, the sandbox's dockerd still runs (the test stops it).
#[test]
#[ignore = "needs a display, tauri-driver, root and dockerd; scripts/test.sh runs it under Xvfb"]
fn the_app_says_it_started_its_own_sandbox_when_no_engine_is_found() {
    require_e2e!();
    let _turn = one_at_a_time();
    let dir = tempfile::Builder::new()
        .prefix("stwsandbox")
        .tempdir_in("/tmp")
        .unwrap();
    let stowage_home = dir.path().join("stowage-home");
    let config = stowage_home.join("config");
    std::fs::create_dir_all(&config).unwrap();
    // Not a first launch: no wizard.
    std::fs::write(config.join("settings.toml"), "first_run_done = true\n").unwrap();
    let user_home = dir.path().join("home");
    std::fs::create_dir_all(&user_home).unwrap();
    let (home, user_home_s) = (
        stowage_home.display().to_string(),
        user_home.display().to_string(),
    );
    let paths = stowage_core::paths::StowagePaths::under(stowage_home.clone());
    let sandbox = stowage_core::sandbox::Sandbox::new(&paths);
    let driver = TauriDriver::start_with(
        // In its own PID namespace (with its own /proc), so the app finds no dockerd of this
        // machine or of other tests: as on a machine with no engine. The sandbox it starts lives
        // in that namespace too, and goes with it when the test ends (--kill-child).
        |program| {
            let mut c = std::process::Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
                .arg(program)
                .env_remove("DOCKER_HOST")
                .env_remove("DOCKER_CONTEXT");
            c
        },
        &[
            ("STOWAGE_HOME", home.as_str()),
            ("HOME", user_home_s.as_str()),
            ("RUST_LOG", "info,stowage=debug"),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ],
        &dir.path().join("tauri-driver.log"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let app = App::start(&driver, &[]).await?;
        let result = sandbox_said(&app).await;
        if result.is_err() && app.shot("failure-sandbox").await.is_ok() {
            eprintln!(
                "e2e: screenshot of the failure: {}",
                app.shots.join("failure-sandbox.png").display()
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
    // What the page said is what happens: the app quit, its sandbox runs on.
    let still = sandbox.running().and_then(|e| e.process).map(|p| p.pid);
    let stopped = rt.block_on(sandbox.stop(Duration::from_secs(30)));
    if let Err(e) = result {
        let log = std::fs::read_to_string(&driver.log_file).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{e}\n--- app and driver log (last lines) ---\n{}",
            tail.join("\n")
        );
    }
    assert!(
        still.is_some(),
        "the sandbox's dockerd keeps running after the app quit, as the page says"
    );
    assert!(matches!(stopped, Ok(true)), "{stopped:?}");
}

async fn sandbox_said(app: &App) -> Result {
    app.until(
        "document.querySelector('#engine-chip')?.getAttribute('aria-busy') === 'false' && document.querySelector('#engine-chip').textContent.startsWith(\"Stowage's sandbox · \")",
        Duration::from_secs(90),
        "the chip to name the sandbox",
    )
    .await?;
    app.open("general").await?;
    app.until(
        &visible("#general-sandbox"),
        Duration::from_secs(20),
        "the General page's sandbox notice",
    )
    .await?;
    let notice = app.text("#general-sandbox").await?;
    assert!(
        notice.starts_with("No Docker Engine was found on this machine, so Stowage started its own sandbox engine: a private dockerd under "),
        "{notice}"
    );
    assert!(
        notice.contains("It keeps running as root after you close this window and after Stowage quits, until you stop it with sudo stowctl sandbox stop."),
        "{notice}"
    );
    let desc = app
        .js("document.querySelector('input[name=engine]:checked').closest('.choice').querySelector('p.muted').innerText")
        .await?;
    let desc = desc.as_str().unwrap_or_default();
    assert!(
        desc.contains("started by Stowage as its own sandbox engine") && !desc.contains("found by"),
        "{desc}"
    );
    app.audit("the General page, the sandbox").await?;
    app.shot("general-sandbox").await?;
    app.open("engine").await?;
    assert!(app.shown("#engine-sandbox").await?);
    assert_eq!(app.text("#engine-sandbox").await?, notice);
    Ok(())
}

/// A compose project on the classic store, brought across a switch from the Features page: the
/// plan's Containers section lists it (services, images, folder, a checkbox) and the standalone
/// container that stays; ticked and applied, its steps show as they happen and it ends running
/// on the containerd store, its volume's file intact.
#[test]
#[ignore = "needs a display, tauri-driver, docker compose and a real engine; scripts/test.sh runs it under Xvfb"]
fn the_app_brings_a_compose_project_across_a_store_switch() {
    require_e2e!();
    let _turn = one_at_a_time();
    let d = PrivateDaemon::start_with_private_etc_docker(REALISTIC_DAEMON_JSON);
    stowage_tests::compose::shop_with_a_lonely_container(&d);
    // Not a first launch: no wizard.
    run_app(&d, false, "projects", |app, d| {
        Box::pin(bring_projects(app, d))
    });
}

/// A scenario's steps, given the app and its engine.
type Steps = for<'a> fn(
    &'a App,
    &'a PrivateDaemon,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result> + 'a>>;

/// Runs `steps` in the app on engine `d` (a first launch, with the wizard, when `first_run`),
/// the user's home and Stowage's own under the engine's folder; on failure a screenshot
/// `failure-NAME` and the last lines of the app's and dockerd's logs.
fn run_app(d: &PrivateDaemon, first_run: bool, name: &str, steps: Steps) {
    if !first_run {
        let config = d.stowage_home.join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("settings.toml"), "first_run_done = true\n").unwrap();
    }
    let home = d.stowage_home.display().to_string();
    let host = d.host();
    let user_home = d.dir().join("home");
    std::fs::create_dir_all(&user_home).unwrap();
    let user_home_s = user_home.display().to_string();
    let driver = TauriDriver::start_with(
        |program| d.command(program),
        &[
            ("STOWAGE_HOME", home.as_str()),
            ("HOME", user_home_s.as_str()),
            ("DOCKER_HOST", host.as_str()),
            ("RUST_LOG", "info,stowage=debug"),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ],
        &d.dir().join("tauri-driver.log"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let failure = format!("failure-{name}");
    let result = rt.block_on(async {
        let app = App::start(&driver, &[]).await?;
        let result = steps(&app, d).await;
        if result.is_err() && app.shot(&failure).await.is_ok() {
            eprintln!(
                "e2e: screenshot of the failure: {}",
                app.shots.join(format!("{failure}.png")).display()
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
    if let Err(e) = result {
        let log = std::fs::read_to_string(&driver.log_file).unwrap_or_default();
        // The whole log beside the failure's screenshot (the engine's folder is removed).
        let _ = std::fs::write(
            e2e::repo_root().join(format!("target/e2e-screenshots/{failure}.log")),
            &log,
        );
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{e}\n--- app and driver log (last lines) ---\n{}\n--- dockerd log ---\n{}",
            tail.join("\n"),
            d.log_tail(20)
        );
    }
}

async fn bring_projects(app: &App, d: &PrivateDaemon) -> Result {
    app.until(
        "document.querySelector('#engine-chip')?.getAttribute('aria-busy') === 'false'",
        Duration::from_secs(30),
        "the engine chip",
    )
    .await?;
    app.open("features").await?;
    app.click(FEATURE).await?;
    app.until(
        &visible("#plan-containers"),
        Duration::from_secs(60),
        "the plan's Containers section",
    )
    .await?;
    // The project, with its services, image and folder, and a checkbox of its own.
    let box_css = "#plan-projects input[type=checkbox][data-project=\"shop\"]";
    assert!(app.shown(box_css).await?, "the project's checkbox");
    assert!(!app.checked(box_css).await?, "unticked until chosen");
    let enabled = app
        .js(&format!(
            "document.querySelector({}).disabled === false",
            json!(box_css)
        ))
        .await?;
    assert_eq!(
        enabled,
        json!(true),
        "a project with its files can be chosen"
    );
    let label = app
        .js(&format!(
            "document.querySelector('label[for=\"' + document.querySelector({}).id + '\"]').innerText",
            json!(box_css)
        ))
        .await?;
    assert_eq!(label, json!("Bring shop to the containerd store"));
    let row = app.text("[data-project-row=\"shop\"]").await?;
    assert!(
        row.contains("Services: web, worker (2 of 2 containers running)"),
        "{row}"
    );
    assert!(row.contains("Images: shop-app:1"), "{row}");
    let folder = d.dir().join("shop");
    assert!(
        row.contains(&format!("Folder: {}", folder.display())),
        "{row}"
    );
    // The standalone container stays, with what it was made from.
    let lonely = app
        .text("#plan-standalone li[data-container=\"lonely\"]")
        .await?;
    assert!(
        lonely.starts_with("lonely — from shop-app:1, created"),
        "{lonely}"
    );
    assert!(lonely.contains("volumes lonelyvol:/x"), "{lonely}");
    let standalone = app.text("#plan-standalone").await?;
    assert!(
        standalone.contains("Standalone containers stay in the store being left:"),
        "{standalone}"
    );
    assert!(
        !standalone.contains("lonely (from"),
        "each standalone container is named once, in the list: {standalone}"
    );
    app.audit("the plan's Containers section").await?;
    app.js("document.querySelector('#plan-containers').scrollIntoView({ block: 'start' }) ?? null")
        .await?;
    app.shot("features-projects").await?;

    // Ticked (with the keyboard, as a person may) and applied.
    app.js(&format!(
        "document.querySelector({}).focus() ?? null",
        json!(box_css)
    ))
    .await?;
    app.c.active_element().await?.send_keys(" ").await?;
    assert!(app.checked(box_css).await?, "Space ticks the project");
    let (outcome, took) = apply_and_wait(app).await?;
    eprintln!(
        "e2e: the project was brought across in {:.1} s",
        took.as_secs_f64()
    );
    assert_eq!(outcome, "applied");
    let steps = app.text("#change-projects").await?;
    for line in [
        "shop: migrating its images (shop-app:1) to the containerd store",
        "shop: bringing it up (docker compose up -d --no-build)",
        "shop: service web running",
        "shop: service worker running",
        "shop: running (web, worker)",
    ] {
        assert!(steps.contains(line), "{line:?} in the progress:\n{steps}");
    }
    let outcomes = app.text("#change-project-outcomes").await?;
    assert_eq!(outcomes, "shop: running (web, worker)");
    app.shot("features-projects-done").await?;

    // For real: the engine runs the containerd store, the services run, the file is there.
    assert!(uses_containerd(d), "{}", driver_status(d));
    stowage_tests::compose::assert_shop_running(d);
    let kept = d.docker_ok(&[
        "exec",
        "shop-web-1",
        "/bin/busybox",
        "cat",
        "/data/kept.txt",
    ]);
    assert_eq!(kept.trim(), "precious");
    Ok(())
}
