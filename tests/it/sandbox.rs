//! `stowctl sandbox start|status|stop` runs a real private engine under STOWAGE_HOME.

use stowage_tests::{require_engine, stowctl_command, OutputExt};

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn sandbox_starts_reports_and_stops() {
    require_engine!();
    let home = tempfile::Builder::new()
        .prefix("sbx")
        .tempdir_in("/tmp")
        .unwrap();
    let run = |args: &[&str]| {
        stowctl_command()
            .args(args)
            .env("STOWAGE_HOME", home.path())
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    };
    struct StopOnDrop<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            (self.0)(&["sandbox", "stop"]);
        }
    }
    let out = run(&["sandbox", "start", "--json"]);
    let _guard = StopOnDrop(&run);
    assert!(out.status.success(), "{}", out.stderr_text());
    let st = out.json();
    assert_eq!(st["running"], true);
    let pid = st["pid"].as_u64().unwrap() as u32;
    assert_eq!(st["engine"]["name"], "sandbox");

    let out = run(&["--engine", "sandbox", "status", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(out.json()["active_store"], "classic");

    // Starting again is a no-op on the same process.
    let again = run(&["sandbox", "start", "--json"]).json();
    assert_eq!(again["pid"].as_u64().unwrap() as u32, pid);

    let out = run(&["sandbox", "stop"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        !stowage_tests::process_running(pid),
        "dockerd {pid} still running"
    );
    assert_eq!(
        run(&["sandbox", "status", "--json"]).json()["running"],
        false
    );
}
