#!/usr/bin/env bash
# Builds Stowage's Debian package: target/debian/stowage_<version>_amd64.deb (under
# $CARGO_TARGET_DIR when set), with /usr/bin/stowage and /usr/bin/stowctl, the .desktop entry,
# hicolor icons (32-512 px, RGBA, made from icons/icon.png), the polkit action
# org.stowage.manage, stowctl's man pages (stowctl.1 and one per subcommand) and bash/zsh/fish
# completions (generated from its clap grammar by `stowctl generate-assets`). The last line
# printed is the .deb's path.
#
# cargo-deb (pinned, --locked) is installed once into .tools/ in the checkout; a rerun reuses it.
# Release build: ~6.5 min the first time on 2 cores, seconds after.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
log() { printf '\n==> %s\n' "$*" >&2; }

bash scripts/install-deps.sh >&2

tools="$PWD/.tools"
if [ "$("$tools/bin/cargo-deb" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DEB_VERSION" ]; then
  log "installing cargo-deb $CARGO_DEB_VERSION into $tools"
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" --root "$tools" >&2
fi

target=$(cargo metadata --no-deps --format-version 1 --locked \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

log "release build of stowage and stowctl"
cargo build --release --locked -p stowage -p stowctl >&2

log "man page, completions and icons"
assets="$target/release/package-assets"
rm -rf "$assets"
"$target/release/stowctl" generate-assets "$assets" >&2
gzip -9n "$assets"/man/*.1
if command -v magick >/dev/null 2>&1; then im=(magick); else im=(convert); fi
for size in 32 48 64 128 256 512; do
  mkdir -p "$assets/icons/${size}x${size}"
  "${im[@]}" icons/icon.png -resize "${size}x${size}" -strip -define png:exclude-chunks=date,time \
    "PNG32:$assets/icons/${size}x${size}/stowage.png"
done

log "cargo deb"
"$tools/bin/cargo-deb" -p stowage --no-build --locked --output "$target/debian/" >&2
version=$(cargo metadata --no-deps --format-version 1 --locked \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="stowage"))')
deb="$target/debian/stowage_${version}_amd64.deb"
[ -f "$deb" ] || { echo "package.sh: $deb was not made" >&2; ls "$target/debian" >&2; exit 1; }
printf 'package: %s (%s KiB)\n' "$deb" "$(( $(stat -c %s "$deb") / 1024 ))" >&2
echo "$deb"
