#!/usr/bin/env bash
# Installs what Stowage needs on Debian/Ubuntu, idempotently:
#   - a Docker Engine new enough for the containerd image store (Debian trixie's docker.io 26.x,
#     pulled from a low-pinned trixie source on the mirror this machine already uses),
#   - the GUI build packages (webkit2gtk 4.1, gtk3, appindicator) and the e2e test tools
#     (Xvfb, WebKitWebDriver, dbus-run-session),
#   - what a rootless engine started by hand needs (tests/src/rootless.rs runs docker.io's
#     dockerd-rootless.sh): uidmap (setuid newuidmap/newgidmap), slirp4netns, rootlesskit,
#   - what the systemd rig needs (tests/src/rig.rs: a real systemd booted with systemd-nspawn, running
#     the packaged docker.service behind docker.socket, and a user's rootless engine under the user
#     manager): systemd-container at exactly the installed systemd's version (so apt never upgrades
#     systemd itself), dbus, curl, dbus-user-session, and the rootless tools above; polkitd and
#     pkexec for the administrator path's test (a non-root user runs `pkexec stowctl` in the rig,
#     polkitd answering on the rig's system bus) and for the .deb's install test (it depends on pkexec),
#   - dpkg-dev: dpkg-shlibdeps, which scripts/package.sh's cargo-deb uses for the .deb's Depends.
#   - what the tests of many hosts need (tests/src/ssh_hosts.rs, tests/it/hosts.rs and ansible.rs):
#     openssh-server (sshd inside each systemd rig: the rig boots this root), the OpenSSH client,
#     netcat-openbsd (the client's ProxyCommand into a rig's network namespace) and ansible-core
#     (Debian's: 2.14 on bookworm, the oldest the collection supports). This machine's PID 1 may
#     not be systemd: the install must not start an sshd on the machine itself, so a policy-rc.d
#     that refuses every start is in place for it (and the one it replaces put back after).
# A rerun with everything present does not touch apt and takes well under a second.
set -euo pipefail

# xdg-utils: the app hands documentation links and folders to the desktop; xclip: the e2e test
# reads the clipboard back.
GUI_PKGS=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev xvfb xauth
  webkit2gtk-driver dbus-x11 imagemagick pkg-config libssl-dev xdg-utils xclip)
# docker-registry (distribution 2.8, taken from trixie like the engine): the local registries of
# tests/src/registry.rs (insecure registry, mirror, login). Its package enables a
# docker-registry.service on :5000 where systemd runs; the tests never use it.
# stargz-snapshotter (0.14 in trixie): for the stargz set-up on a system containerd
# (tests/it/snapshotters.rs, in the rig); Debian's package ships only ctr-remote, not the
# containerd-stargz-grpc daemon, which Stowage then names as missing.
# docker-compose (trixie: compose v2, the `docker compose` plugin): compose projects brought
# back after a switch (tests/it/projects.rs).
ENGINE_PKGS=(docker.io containerd docker-cli docker-buildx docker-registry stargz-snapshotter
  docker-compose)
# protobuf-compiler: containerd-client generates its gRPC bindings at build time.
# libseccomp-dev: the Wasm shim (crates/wasm-shim) links libseccomp through youki's libcontainer.
# wabt: wat2wasm, which makes the Wasm test images' modules from WAT text (tests/src/wasm.rs).
# uidmap, slirp4netns, rootlesskit: the rootless engine of the tests.
# apache2-utils: htpasswd -B for the registry with a login.
BASE_PKGS=(runc busybox-static ca-certificates protobuf-compiler uidmap slirp4netns rootlesskit
  apache2-utils libseccomp-dev wabt)
# The systemd rig (systemd-container is handled apart: its version must equal systemd's).
# polkitd, pkexec: the administrator path (tests/it/admin_path.rs); dpkg-dev: scripts/package.sh.
RIG_PKGS=(dbus curl dbus-user-session polkitd pkexec dpkg-dev)

want_engine=1
want_gui=1
for arg in "$@"; do
  case "$arg" in
    --engine-only) want_gui=0 ;;
    --gui-only) want_engine=0 ;;
    *) echo "usage: $0 [--engine-only|--gui-only]" >&2; exit 2 ;;
  esac
done

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]; }

engine_ok() {
  for p in "${ENGINE_PKGS[@]}" "${BASE_PKGS[@]}"; do installed "$p" || return 1; done
  local v
  v=$(dpkg-query -W -f='${Version}' docker.io 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge 26 || return 1
}

# systemd-container must come from the same source package version as the installed systemd.
systemd_version() { dpkg-query -W -f='${Version}' systemd 2>/dev/null; }

rig_ok() {
  for p in "${RIG_PKGS[@]}"; do installed "$p" || return 1; done
  # No systemd package (a container image without it): the rig cannot run here; nothing to add.
  installed systemd || return 0
  installed systemd-container || return 1
  [ "$(dpkg-query -W -f='${Version}' systemd-container 2>/dev/null)" = "$(systemd_version)" ]
}

gui_ok() {
  for p in "${GUI_PKGS[@]}"; do installed "$p" || return 1; done
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# docker-registry's package enables a registry on :5000 wherever systemd boots (the systemd rig
# boots this root too); the tests start their own on free ports, so it stays off.
registry_service_off() {
  local wants=/etc/systemd/system/multi-user.target.wants/docker-registry.service
  if [ -e "$wants" ] || [ -L "$wants" ]; then
    $SUDO systemctl disable docker-registry.service >/dev/null 2>&1 || $SUDO rm -f "$wants"
  fi
}

# ---- Many hosts: sshd in the rigs, the OpenSSH client, nc, ansible-core. ----
# ansible-core from Debian rather than PyPI: bookworm's 2.14 is the `requires_ansible` floor of the
# collection (ansible/), it runs on the system python3 the rigs also have, and it needs no venv.
# sudo: a user who is not root switching over ssh (stowctl runs again through `sudo -n`).
HOSTS_PKGS=(openssh-server openssh-client netcat-openbsd ansible-core sudo)
POLICY_RC=/usr/sbin/policy-rc.d
# Where a policy-rc.d that was there before is kept during the install; a run that was killed
# hard leaves it here, and the next run puts it back first.
POLICY_RC_SAVED=/usr/sbin/policy-rc.d.stowage-saved

hosts_ok() {
  for p in "${HOSTS_PKGS[@]}"; do installed "$p" || return 1; done
}

policy_rc_restore() {
  if [ -e "$POLICY_RC_SAVED" ]; then
    $SUDO mv -f "$POLICY_RC_SAVED" "$POLICY_RC"
  else
    $SUDO rm -f "$POLICY_RC"
  fi
}

install_hosts_pkgs() {
  # Left over from a run killed before its trap: that file is the machine's own policy.
  if [ -e "$POLICY_RC_SAVED" ]; then policy_rc_restore; fi
  if [ -e "$POLICY_RC" ]; then $SUDO mv -f "$POLICY_RC" "$POLICY_RC_SAVED"; fi
  trap policy_rc_restore EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # 101: "action forbidden by policy": invoke-rc.d/deb-systemd-invoke start nothing (no sshd
  # on this machine, whose PID 1 is not systemd). The package still enables ssh.service for
  # systemd: the links under /etc/systemd/system are what the rigs boot.
  printf '#!/bin/sh\n# install-deps.sh (Stowage): no service starts during this install.\nexit 101\n' \
    | $SUDO tee "$POLICY_RC" >/dev/null
  $SUDO chmod 0755 "$POLICY_RC"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${HOSTS_PKGS[@]}"
  policy_rc_restore
  trap - EXIT INT TERM
}

if [ "$want_engine" = 1 ] && ! hosts_ok; then
  install_hosts_pkgs
fi

need=0
[ "$want_engine" = 1 ] && ! engine_ok && need=1
[ "$want_engine" = 1 ] && ! rig_ok && need=1
[ "$want_gui" = 1 ] && ! gui_ok && need=1
if [ "$need" = 0 ]; then
  [ "$want_engine" = 1 ] && registry_service_off
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
codename="${VERSION_CODENAME:-}"

pkgs=()
if [ "$want_gui" = 1 ]; then pkgs+=("${GUI_PKGS[@]}"); fi
if [ "$want_engine" = 1 ]; then pkgs+=("${BASE_PKGS[@]}" "${RIG_PKGS[@]}"); fi

if [ "$want_engine" = 1 ] && [ "$ID" = debian ] && [ "$codename" = bookworm ]; then
  # bookworm's docker.io is 20.10: take the engine from trixie, pinned low so nothing else moves.
  $SUDO apt-get update -qq
  mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' \
    | awk '$2=="bookworm"{print $1; exit}')
  if [ -z "$mirror" ]; then echo "install-deps: cannot find the bookworm mirror in apt's config" >&2; exit 1; fi
  if [ ! -f /etc/apt/sources.list.d/stowage-trixie.list ]; then
    echo "deb $mirror trixie main" | $SUDO tee /etc/apt/sources.list.d/stowage-trixie.list >/dev/null
  fi
  if [ ! -f /etc/apt/preferences.d/stowage-trixie ]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' | $SUDO tee /etc/apt/preferences.d/stowage-trixie >/dev/null
  fi
  $SUDO apt-get update -qq
  # If glib already comes from trixie, bookworm's -dev packages no longer resolve: take them from trixie too.
  glib=$(dpkg-query -W -f='${Version}' libglib2.0-0 2>/dev/null || true)
  if [ -n "$glib" ] && dpkg --compare-versions "$glib" ge 2.78; then
    $SUDO apt-get install -y --no-install-recommends -t trixie "${pkgs[@]}" libbz2-dev \
      docker.io containerd docker-cli docker-buildx docker-registry stargz-snapshotter docker-compose
  else
    $SUDO apt-get install -y --no-install-recommends --no-remove "${pkgs[@]}" \
      docker.io/trixie containerd/trixie docker-cli/trixie docker-buildx/trixie docker-registry/trixie \
      stargz-snapshotter/trixie docker-compose/trixie
  fi
else
  $SUDO apt-get update -qq
  if [ "$want_engine" = 1 ]; then pkgs+=("${ENGINE_PKGS[@]}"); fi
  $SUDO apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

if [ "$want_engine" = 1 ] && installed systemd && ! rig_ok; then
  # Pinned to systemd's own version: a newer systemd-container would pull a newer systemd.
  $SUDO apt-get install -y --no-install-recommends "systemd-container=$(systemd_version)"
fi

if [ "$want_engine" = 1 ]; then
  # Packages may start the system daemon; Stowage's tests never use it, and the machine needs no bridge.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then :; fi
  registry_service_off
  dockerd --validate --config-file /dev/null >/dev/null 2>&1 || {
    echo "install-deps: dockerd --validate failed after install" >&2; exit 1; }
fi
