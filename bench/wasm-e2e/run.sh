#!/usr/bin/env bash
# The end-to-end figure of the WASM transform: the same merged endpoint (two ~1.4 KB backends, allow + mapping +
# group) served by `gw run` on the WASM path and on the JS path (--transform js), alternating,
# with nginx serving the bodies. Usage: bash bench/wasm-e2e/run.sh [rounds] [seconds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-3}
secs=${2:-8}
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
rm -rf /tmp/gwbench && mkdir -p /tmp/gwbench/logs /tmp/gwbench/www
cp "$here/user.json" "$here/post.json" /tmp/gwbench/www/
nginx -p /tmp/gwbench -c "$here/nginx.conf" &
ngx=$!
trap 'kill $ngx 2>/dev/null || true' EXIT
sleep 0.5
run() { # $1 label, $2 extra args
  node "$root/bin/gw.js" run -c "$here/krakend.json" --workers 1 $2 > /tmp/gwbench/gw.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18090/__health && break; sleep 0.1; done
  wrk -t1 -c64 -d2s http://127.0.0.1:18090/users/1 > /dev/null
  local rps
  rps=$(wrk -t1 -c64 -d"${secs}"s http://127.0.0.1:18090/users/1 | awk '/Requests\/sec/{print $2}')
  kill $pid; wait $pid 2>/dev/null || true
  echo "$1 $rps"
}
for r in $(seq 1 "$rounds"); do
  run "round $r wasm" ""
  run "round $r js  " "--transform js"
done
