// nginx as the bench backend (static files) and as the reference proxy (proxy_pass), both run as
// the current user from a temp prefix: `nginx -p DIR -c DIR/x.conf` with `daemon off` so that the
// master is our child process and its CPU time (master + workers) can be read from /proc.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitForHttp } from './proc.mjs';

export function nginxVersion(bin) {
  // nginx prints its version on stderr
  const { stdout, stderr } = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return `${stdout ?? ''}${stderr ?? ''}`.trim().replace(/^nginx version: /, '') || 'nginx';
}

function commonHead(prefix, name, workers) {
  // Started as root, nginx would switch its workers to `nobody`, who cannot read our temp dir.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  const tmp = join(prefix, `tmp-${name}`);
  mkdirSync(tmp, { recursive: true });
  return `${user}worker_processes ${workers};
daemon off;
master_process on;
pid ${join(prefix, `${name}.pid`)};
error_log ${join(prefix, `${name}-error.log`)} warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
`;
}

/** Static JSON files from `wwwDir`, one worker: the backend of every scenario. */
export function backendConf(prefix, wwwDir, port) {
  return `${commonHead(prefix, 'backend', 1)}  types { application/json json; }
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=64 inactive=60s;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    root ${wwwDir};
    location = /__ready { return 200 'ok'; }
    location / { }
  }
}
`;
}

/**
 * The reference proxy: `location` → `proxy_pass` to the backend over a keep-alive upstream,
 * `workers` worker processes (the same count as gw's worker threads).
 */
export function proxyConf(prefix, routes, backendPort, port, workers) {
  const locations = routes
    .map(({ path, upstreamPath }) => `    location = ${path} { proxy_pass http://backend${upstreamPath}; }`)
    .join('\n');
  return `${commonHead(prefix, 'proxy', workers)}  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 512;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # room for the 256 KB document in memory (the default 8 x 4k would spill it to a temp file)
    proxy_buffer_size 16k;
    proxy_buffers 32 16k;
    proxy_busy_buffers_size 64k;
    location = /__ready { return 200 'ok'; }
${locations}
  }
}
`;
}

export async function startNginx(bin, prefix, name, conf, readyUrl) {
  const confFile = join(prefix, `${name}.conf`);
  writeFileSync(confFile, conf);
  const proc = startProcess(bin, [
    '-p',
    `${prefix}/`,
    '-e',
    join(prefix, `${name}-startup.log`),
    '-c',
    confFile,
  ]);
  await waitForHttp(readyUrl, `nginx (${name})`, 10000, proc);
  return proc;
}
