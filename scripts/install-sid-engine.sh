#!/usr/bin/env bash
# Unpacks Debian sid's Docker Engine 28.5 (docker.io, containerd 2.1, docker-cli, docker-buildx 0.29)
# into a prefix (default /opt/stowage-engines/sid, or $STOWAGE_SID_PREFIX), for running the
# integration tests against a second engine version: STOWAGE_TEST_ENGINE_PREFIX=<prefix>.
# Installs nothing into the system: the .debs are fetched with `apt-get download` from a sid source
# on the mirror apt already uses, with apt lists and caches in a temp dir, and unpacked with
# `dpkg -x`. runc is not fetched (sid's needs glibc 2.38): the system runc is used.
# A rerun with the prefix present at the right versions does not touch the network.
# The last line printed is the prefix.
set -euo pipefail

PREFIX="${STOWAGE_SID_PREFIX:-/opt/stowage-engines/sid}"
PKGS=(docker.io containerd docker-cli docker-buildx)
# What the prefix must hold: "<binary under the prefix> <args> | <pattern its output matches>".
want_dockerd='^Docker version 28\.5\.'
want_containerd=' (v)?2\.1\.'
want_buildx=' v?0\.29\.'
want_docker='^Docker version 28\.5\.'

say() { printf 'install-sid-engine: %s\n' "$*" >&2; }

# Whether the unpacked tree under $1 holds the engine this script promises.
prefix_ok() {
  local p=$1
  [ -f "$p/.stowage-sid-engine" ] || return 1
  "$p/usr/sbin/dockerd" --version 2>/dev/null | grep -Eq "$want_dockerd" || return 1
  "$p/usr/bin/containerd" --version 2>/dev/null | grep -Eq "$want_containerd" || return 1
  "$p/usr/bin/docker" --version 2>/dev/null | grep -Eq "$want_docker" || return 1
  "$p/usr/libexec/docker/cli-plugins/docker-buildx" version 2>/dev/null | grep -Eq "$want_buildx" || return 1
  [ -x "$p/usr/bin/containerd-shim-runc-v2" ] || return 1
}

if prefix_ok "$PREFIX"; then
  echo "$PREFIX"
  exit 0
fi

for tool in apt-get dpkg dpkg-deb flock; do
  command -v "$tool" >/dev/null || { say "$tool is needed (Debian)"; exit 1; }
done

# One download at a time per prefix; another run may have finished it meanwhile.
mkdir -p "$(dirname "$PREFIX")"
exec 9>"$(dirname "$PREFIX")/.$(basename "$PREFIX").lock"
flock 9
if prefix_ok "$PREFIX"; then
  echo "$PREFIX"
  exit 0
fi

# The mirror this machine's Debian archive comes from (never a host name written here): the one
# serving this release's main component, else any Debian archive apt knows.
. /etc/os-release
mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
  | awk -v rel="${VERSION_CODENAME:-}" '$3=="main" && $2==rel {print $1; exit}')
if [ -z "$mirror" ]; then
  mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
    | awk '$3=="main" && $2 !~ /-(security|updates|backports)$/ && $1 !~ /security/ {print $1; exit}')
fi
if [ -z "$mirror" ]; then
  say "cannot find a Debian mirror with a main component in apt's config"
  exit 1
fi

work=$(mktemp -d /tmp/stowage-sid-apt.XXXXXX)
staging=""
cleanup() {
  rm -rf "$work"
  if [ -n "$staging" ]; then rm -rf "$staging"; fi
}
trap cleanup EXIT

mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/prefs.d"
echo "deb $mirror sid main" >"$work/sources.list"
: >"$work/preferences"
# Everything apt writes goes to $work; the system's sources and pins are not read.
APT=(apt-get -q
  -o "Dir::Etc::sourcelist=$work/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::Etc::preferences=$work/preferences"
  -o "Dir::Etc::preferencesparts=$work/prefs.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "Dir::Cache::archives=$work/cache/archives"
  -o "APT::Sandbox::User=root"
  -o "Acquire::Languages=none"
  -o "APT::Architecture=$(dpkg --print-architecture)")

say "fetching sid's package index from $mirror"
"${APT[@]}" update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; exit 1; }
say "downloading ${PKGS[*]}"
(cd "$work/debs" && "${APT[@]}" download "${PKGS[@]}") >"$work/download.log" 2>&1 \
  || { cat "$work/download.log" >&2; exit 1; }

# Unpack next to the prefix, check, then move into place: a failed run never leaves a half tree.
staging=$(mktemp -d "$PREFIX.new.XXXXXX")
chmod 755 "$staging"
for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$staging"
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$staging/.stowage-sid-engine"
done
if ! prefix_ok "$staging"; then
  say "the unpacked engine is not the expected one (sid moved on?):"
  cat "$staging/.stowage-sid-engine" >&2
  "$staging/usr/sbin/dockerd" --version >&2 || true
  "$staging/usr/bin/containerd" --version >&2 || true
  "$staging/usr/libexec/docker/cli-plugins/docker-buildx" version >&2 || true
  exit 1
fi
rm -rf "$PREFIX"
mv "$staging" "$PREFIX"
staging=""
sed 's/^/install-sid-engine: unpacked /' "$PREFIX/.stowage-sid-engine" >&2
"$PREFIX/usr/sbin/dockerd" --version >&2
echo "$PREFIX"
