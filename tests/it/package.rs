//! The .deb as people install it (`scripts/package.sh` makes it; `STOWAGE_DEB` names it):
//! `apt-get install ./stowage_*.deb` into a clean root — the systemd rig, an overlay of this
//! machine's root where the package's files are absent, with no network (every dependency must
//! already be satisfied: scripts/install-deps.sh installs them) — then the installed binaries,
//! desktop entry, icons, polkit action (asked of the rig's polkitd), man page and completions;
//! then `apt-get remove` leaves nothing of the package but the user's own settings.

use std::path::PathBuf;
use std::time::Instant;

use stowage_tests::rig::SystemdRig;
use stowage_tests::{require, require_rig, OutputExt};

/// Names the .deb under test.
const DEB_ENV: &str = "STOWAGE_DEB";

fn deb_unavailable() -> Option<String> {
    match std::env::var_os(DEB_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    {
        None => Some(format!(
            "{DEB_ENV} is not set (scripts/test.sh sets it to the last line of scripts/package.sh)"
        )),
        Some(p) if !p.is_file() => Some(format!("{DEB_ENV}={} is not a file", p.display())),
        Some(_) => None,
    }
}

const FILES: &[&str] = &[
    "/usr/bin/stowage",
    "/usr/bin/stowctl",
    "/usr/share/applications/stowage.desktop",
    "/usr/share/polkit-1/actions/org.stowage.manage.policy",
    "/usr/share/man/man1/stowctl.1.gz",
    "/usr/share/man/man1/stowctl-store-use.1.gz",
    "/usr/share/man/man1/stowctl-migrate.1.gz",
    "/usr/share/bash-completion/completions/stowctl",
    "/usr/share/zsh/vendor-completions/_stowctl",
    "/usr/share/fish/vendor_completions.d/stowctl.fish",
    "/usr/share/icons/hicolor/32x32/apps/stowage.png",
    "/usr/share/icons/hicolor/48x48/apps/stowage.png",
    "/usr/share/icons/hicolor/64x64/apps/stowage.png",
    "/usr/share/icons/hicolor/128x128/apps/stowage.png",
    "/usr/share/icons/hicolor/256x256/apps/stowage.png",
    "/usr/share/icons/hicolor/512x512/apps/stowage.png",
];

fn ok(rig: &SystemdRig, args: &[&str]) -> String {
    let out = rig.exec(args);
    assert!(
        out.status.success(),
        "{args:?} in the rig ({}):\n{}\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    out.stdout_text()
}

#[test]
#[ignore = "needs the .deb (STOWAGE_DEB, scripts/package.sh) and the systemd rig; scripts/test.sh runs it"]
fn the_package_installs_into_a_clean_root_works_and_removes_cleanly() {
    require_rig!();
    require!(deb_unavailable(), "the .deb");
    let deb = PathBuf::from(std::env::var_os(DEB_ENV).unwrap());
    let size = std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0);
    let rig = SystemdRig::boot();
    for f in FILES {
        assert!(
            !rig.exec(&["test", "-e", f]).status.success(),
            "{f} exists before the install: the rig's root is not clean"
        );
    }
    rig.copy_in(&deb, "/tmp/stowage.deb", 0o644);

    let started = Instant::now();
    let out = rig.exec(&[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "/tmp/stowage.deb",
    ]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "apt-get install ./stowage.deb ({}):\n{}\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    eprintln!(
        "package: {} ({} KiB) installed with apt-get in {:.1} s",
        deb.display(),
        size / 1024,
        took.as_secs_f64()
    );

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        ok(&rig, &["stowage", "--version"]).trim(),
        format!("stowage {version}")
    );
    assert_eq!(
        ok(&rig, &["stowctl", "--version"]).trim(),
        format!("stowctl {version}")
    );
    assert_eq!(
        ok(&rig, &["sh", "-c", "command -v stowage"]).trim(),
        "/usr/bin/stowage"
    );

    let listed = ok(&rig, &["dpkg", "-L", "stowage"]);
    for f in FILES {
        assert!(
            listed.lines().any(|l| l == *f),
            "{f} not in the package:\n{listed}"
        );
        ok(&rig, &["test", "-f", f]);
    }
    let depends = ok(
        &rig,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Depends}\n${Recommends}",
            "stowage",
        ],
    );
    for d in [
        "libwebkit2gtk-4.1-0",
        "libayatana-appindicator3-1",
        "pkexec",
        "docker.io",
    ] {
        assert!(
            depends.contains(d),
            "{d} not in Depends/Recommends: {depends}"
        );
    }

    // Icons: RGBA PNGs (colour type 6) of their directory's size.
    for size in [32u32, 48, 64, 128, 256, 512] {
        let path = format!("/usr/share/icons/hicolor/{size}x{size}/apps/stowage.png");
        let png = rig.read_file(&path).expect("icon");
        assert_eq!(&png[1..4], b"PNG", "{path}");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(
            (w, h, png[25]),
            (size, size, 6),
            "{path}: size and colour type (6 = RGBA)"
        );
    }
    let desktop = String::from_utf8(
        rig.read_file("/usr/share/applications/stowage.desktop")
            .unwrap(),
    )
    .unwrap();
    for line in [
        "Name=Stowage",
        "Exec=stowage",
        "Icon=stowage",
        "StartupWMClass=Stowage",
        "Categories=Development;System;Utility;",
    ] {
        assert!(
            desktop.lines().any(|l| l == line),
            "{line} not in:\n{desktop}"
        );
    }
    assert!(
        desktop.lines().any(|l| l.starts_with("Comment=")),
        "{desktop}"
    );

    // polkitd itself reads the installed action.
    let action = ok(
        &rig,
        &["pkaction", "--action-id", "org.stowage.manage", "--verbose"],
    );
    assert!(
        action.contains("org.freedesktop.policykit.exec.path -> /usr/bin/stowctl"),
        "{action}"
    );
    let field = |name: &str| -> String {
        action
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("implicit active:"), "auth_admin_keep", "{action}");
    assert_eq!(field("implicit any:"), "auth_admin", "{action}");
    assert_eq!(
        field("message:"),
        "Stowage wants to change the Docker Engine's configuration and restart it",
        "{action}"
    );
    let man = ok(
        &rig,
        &[
            "sh",
            "-c",
            "zcat /usr/share/man/man1/stowctl.1.gz | head -5",
        ],
    );
    assert!(man.contains(".TH stowctl 1"), "{man}");
    // One page per subcommand, found by man itself.
    assert_eq!(
        ok(&rig, &["man", "-w", "stowctl-store-use"]).trim(),
        "/usr/share/man/man1/stowctl-store-use.1.gz"
    );
    let pages = ok(&rig, &["sh", "-c", "ls /usr/share/man/man1/stowctl*"]);
    assert!(pages.lines().count() >= 20, "{pages}");
    let bash = String::from_utf8(
        rig.read_file("/usr/share/bash-completion/completions/stowctl")
            .unwrap(),
    )
    .unwrap();
    assert!(bash.contains("complete -F _stowctl"), "bash completions");

    // A person's own settings, which removing the package must leave alone.
    rig.write_file(
        "/root/.config/stowage/settings.toml",
        "default_engine = \"system\"\n",
    );
    let out = rig.exec(&[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "remove",
        "-y",
        "stowage",
    ]);
    assert!(
        out.status.success(),
        "apt-get remove: {}",
        out.stderr_text()
    );
    for f in FILES {
        assert!(
            !rig.exec(&["test", "-e", f]).status.success(),
            "{f} is left after apt-get remove"
        );
    }
    let left = rig
        .exec(&["sh", "-c", "ls /usr/share/man/man1/stowctl* 2>/dev/null"])
        .stdout_text();
    assert!(left.trim().is_empty(), "man pages left: {left}");
    let status = rig
        .exec(&["dpkg-query", "-W", "-f", "${db:Status-Status}", "stowage"])
        .stdout_text();
    assert!(
        matches!(status.trim(), "not-installed" | "config-files" | ""),
        "status after remove: {status}"
    );
    assert_eq!(
        rig.read_file("/root/.config/stowage/settings.toml")
            .as_deref(),
        Some(&b"default_engine = \"system\"\n"[..])
    );
    assert!(!rig
        .exec(&["sh", "-c", "command -v stowage"])
        .status
        .success());
}
