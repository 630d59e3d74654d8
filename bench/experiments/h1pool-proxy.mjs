// Experiment (not used by gw): raw-client-proxy.mjs's /noop with gw's own HTTP/1.1 client
// (H1Pool, dist/proxy/h1-client.js) in place of the minimal one, and no gateway work at all: no
// routing, no header forwarding, no X-Forwarded-For, no response header pass-through, no deadline.
// What uWS + gw's client cost on their own. Needs `npm run build`.
//
//   node bench/experiments/h1pool-proxy.mjs PORT BACKEND_PORT
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'package.json'));
const uWS = require('uWebSockets.js');
const { H1Pool } = await import(join(ROOT, 'dist', 'proxy', 'h1-client.js'));
const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const pool = new H1Pool(`http://127.0.0.1:${backendPort}`, { connections: 256, keepAliveTimeoutMs: 60000 });
const HEADERS = ['User-Agent', 'KrakenD Version 0.1.0'];

class Call {
  constructor(res) {
    this.res = res;
    this.aborted = false;
    this.status = 0;
    this.chunks = [];
  }
  onResponseStart(_controller, status) {
    this.status = status;
  }
  onResponseData(_controller, chunk) {
    this.chunks.push(Buffer.from(chunk));
  }
  onResponseEnd() {
    if (this.aborted) return;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.res.cork(() => {
      this.res.writeStatus(this.status === 200 ? '200 OK' : '502 Bad Gateway');
      this.res.writeHeader('content-type', 'application/json');
      this.res.end(body);
    });
  }
  onResponseError() {
    if (this.aborted) return;
    this.res.cork(() => {
      this.res.writeStatus('502 Bad Gateway');
      this.res.end();
    });
  }
}

uWS
  .App()
  .get('/__ready', (res) => res.end('ok'))
  .get('/noop', (res) => {
    const call = new Call(res);
    res.onAborted(() => {
      call.aborted = true;
    });
    pool.dispatch({ method: 'GET', path: '/data.json', headers: HEADERS, body: null }, call);
  })
  .listen('127.0.0.1', port, () => {});
process.on('SIGTERM', () => process.exit(0));
