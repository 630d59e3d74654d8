#!/usr/bin/env bash
# Usage: scripts/debian13/run.sh DIR CMD [ARG...]
# Runs CMD as root inside the Debian 13 root DIR (made by make-root.sh) with chroot,
# in this repository (bind-mounted at the same absolute path), with Node 24 first on PATH.
# Exits with CMD's status.
#
# Mounts: /proc, /dev (+pts, shm), /sys, the host's /tmp, and the repository. They are
# made in a private mount namespace (unshare) when the host allows it, so the host never
# sees them and a killed run (even SIGKILL) leaves nothing behind; otherwise in the host's
# namespace. Either way they are unmounted by a trap on exit, and mounts left under DIR by
# an earlier run that was killed are removed first.
#
# D13_RUN_BARE=1: only /proc, /dev, /sys; cwd is / (used by make-root.sh for apt).
# D13_NO_UNSHARE=1: do not use a mount namespace (tests the fallback).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -ge 2 ] || { echo "usage: $0 DIR CMD [ARG...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || d13_die "must run as root (chroot, mount)"
dir=$(d13_abspath "$1")
shift
if [ ! -x "$dir/bin/sh" ] || [ ! -d "$dir/proc" ]; then d13_die "$dir is not a root made by make-root.sh"; fi
repo=$(cd "$here/../.." && pwd -P)
case "$repo" in *[[:space:]]*) d13_die "repository path with whitespace not supported" ;; esac

if [ -z "${D13_IN_NS:-}" ]; then
  # Stale mounts of a killed host-namespace run would hide the fresh ones; clear them.
  d13_umount_all "$dir"
  # Private mount namespace: mounts die with the last process in it.
  # (D13_NO_UNSHARE=1 forces the host-namespace way, to test it.)
  if [ "${D13_NO_UNSHARE:-0}" != 1 ] && unshare --mount --propagation private true 2>/dev/null; then
    D13_IN_NS=1 exec unshare --mount --propagation private -- bash "$here/run.sh" "$dir" "$@"
  fi
  # No namespaces: serialise runs on this root so one run's cleanup cannot pull
  # another run's mounts away.
  mkdir -p "$dir/$D13_META"
  exec {lockfd}>"$dir/$D13_META/run.lock"
  flock "$lockfd"
  d13_umount_all "$dir"
fi

rc=0 child=
# shellcheck disable=SC2317 # (cleanup and on_signal run from traps)
# Unmount on every exit; a failed unmount turns a success into a failure.
cleanup() { d13_umount_all "$dir" || { [ "$rc" != 0 ] || rc=1; }; exit "$rc"; }
# CMD runs in the background so a signal to this script is handled at once (not after CMD
# ends): it is passed on to CMD, then the mounts go.
# shellcheck disable=SC2317
on_signal() {
  rc=$2
  if [ -n "$child" ]; then kill -s "$1" "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

d13_mount_base "$dir"
workdir=/
if [ "${D13_RUN_BARE:-0}" != 1 ]; then
  # Host /tmp: test fixtures and sockets shared with the host; the repo: node_modules
  # and sources exactly as the host has them.
  d13_bind_same_path "$dir" /tmp
  d13_bind_same_path "$dir" "$repo"
  workdir=$repo
fi
# Name resolution for localhost and the mirror, as the host has it.
cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
# The host's CA bundle: the registry may be reached through a proxy only that bundle trusts
# (npm and Node read it through NODE_EXTRA_CA_CERTS / SSL_CERT_FILE, passed on unchanged).
if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ -f "$dir/etc/ssl/certs/ca-certificates.crt" ]; then
  mount --bind /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
fi

# CI may start us with stdin closed; `<&0` below needs an open fd 0.
[ -e /proc/self/fd/0 ] || exec </dev/null
# `<&0`: a background job would otherwise get /dev/null as stdin. The run lock (if any) is
# closed for CMD, so a daemon it leaves behind cannot block the next run.
(
  [ -z "${lockfd:-}" ] || exec {lockfd}>&-
  exec chroot "$dir" /usr/bin/env -u D13_IN_NS -u D13_RUN_BARE -u D13_NO_UNSHARE \
    PATH="$D13_NODE_DIR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME=/root LANG=C.UTF-8 \
    /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$workdir" "$@"
) <&0 &
child=$!
wait "$child" || rc=$?
child=
exit "$rc"
