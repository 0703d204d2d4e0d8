//! Compose projects on a private engine (tests/it/projects.rs and the e2e test): a two-service
//! project on an imported image, with a named volume, and no network (the private engines run
//! without a bridge).

use std::path::{Path, PathBuf};

use crate::PrivateDaemon;

/// Writes the project's `compose.yaml` in `dir`: services `web` (with the volume `data` on
/// `/data`) and `worker`, both on `image`. Returns the file.
pub fn write_project(dir: &Path, image: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("compose.yaml");
    std::fs::write(
        &file,
        format!(
            "services:\n  web:\n    image: {image}\n    network_mode: none\n    command: [\"/bin/sleep\", \"3600\"]\n    volumes: [\"data:/data\"]\n  worker:\n    image: {image}\n    network_mode: none\n    command: [\"/bin/sleep\", \"3600\"]\nvolumes:\n  data: {{}}\n"
        ),
    )
    .unwrap();
    file
}

/// `docker compose -p PROJECT -f FILE up -d --no-build` on `d`.
pub fn compose_up(d: &PrivateDaemon, project: &str, file: &Path) {
    d.docker_ok(&[
        "compose",
        "-p",
        project,
        "-f",
        file.to_str().unwrap(),
        "up",
        "-d",
        "--no-build",
    ]);
}

/// The project `shop` of [`write_project`] running on `d` (image `shop-app:1`, busybox), with
/// `precious` in its volume's `/data/kept.txt`, and a standalone container `lonely` (created,
/// volume `lonelyvol` on `/x`) beside it.
pub fn shop_with_a_lonely_container(d: &PrivateDaemon) {
    d.import_busybox_image("shop-app:1");
    let file = write_project(&d.dir().join("shop"), "shop-app:1");
    compose_up(d, "shop", &file);
    d.docker_ok(&[
        "exec",
        "shop-web-1",
        "/bin/sh",
        "-c",
        "echo precious > /data/kept.txt",
    ]);
    d.docker_ok(&[
        "create",
        "--name",
        "lonely",
        "-v",
        "lonelyvol:/x",
        "shop-app:1",
        "/bin/sleep",
        "1",
    ]);
}

/// Asserts that the `shop` project's two services run on `d`.
pub fn assert_shop_running(d: &PrivateDaemon) {
    let ps = d.docker_ok(&[
        "ps",
        "--filter",
        "label=com.docker.compose.project=shop",
        "--format",
        "{{.Names}} {{.State}}",
    ]);
    let mut lines: Vec<&str> = ps.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["shop-web-1 running", "shop-worker-1 running"],
        "{ps}"
    );
}
