// Failed requests while gw reloads its configuration under load: autocannon keeps CONNECTIONS
// keep-alive connections busy for DURATION seconds against `gw run`, while the configuration is
// rewritten and SIGHUP sent every second, alternating a valid new configuration and a broken one.
// Prints the requests, the non-2xx answers, the errors and the reloads applied and refused.
// Needs `npm run build:ts` first.
// Usage: node bench/reload-under-load.mjs [seconds=10] [connections=50] [workers=2]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, GW_BIN, portOpen } from '../test/helpers/gateway.mjs';

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 50);
const workers = process.argv[4] ?? '2';

const backend = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ path: req.url }));
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const backendUrl = `http://127.0.0.1:${backend.address().port}`;

const port = await freePort();
const file = join(mkdtempSync(join(tmpdir(), 'gw-reload-bench-')), 'krakend.json');
const valid = (n) => ({
  version: 3,
  port,
  listen_ip: '127.0.0.1',
  extra_config: { router: { disable_access_log: true } },
  endpoints: [{ endpoint: '/v', backend: [{ host: [backendUrl], url_pattern: `/config-${n}` }] }],
});
const broken = { version: 3, port, endpoints: [{ endpoint: '/*', backend: [] }] };
writeFileSync(file, JSON.stringify(valid(0)));

const gw = spawn(process.execPath, [GW_BIN, 'run', '-c', file, '--workers', workers], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let log = '';
gw.stdout.on('data', (d) => (log += d));
gw.stderr.on('data', (d) => (log += d));
while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 500));

let n = 0;
const reloads = setInterval(() => {
  n++;
  writeFileSync(file, JSON.stringify(n % 2 === 1 ? valid(n) : broken));
  gw.kill('SIGHUP');
}, 1000);
const result = await autocannon({ url: `http://127.0.0.1:${port}/v`, connections, duration: seconds });
clearInterval(reloads);
gw.kill('SIGTERM');
await new Promise((r) => gw.once('exit', r));
backend.close();

const applied = (log.match(/the new configuration serves/g) ?? []).length;
const refused = (log.match(/reload refused: \d+ error/g) ?? []).length;
console.log(
  JSON.stringify({
    front: /\((\w+), /.exec(log)?.[1],
    workers: /(\d+) workers?/.exec(log)?.[1],
    seconds,
    connections,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    reloadsApplied: applied,
    reloadsRefused: refused,
  }),
);
