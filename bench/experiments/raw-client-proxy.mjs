// Experiment (not used by gw): the floor proxy's /noop with a minimal keep-alive HTTP/1.1 client
// written on node:net instead of undici, to measure what undici's JavaScript costs per request.
// Content-Length responses only, one thread, no timeouts, no redirects: a ceiling, not a client.
//
//   node bench/experiments/raw-client-proxy.mjs PORT BACKEND_PORT
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const uWS = require('uWebSockets.js');
const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const MAX_CONNECTIONS = 256;
const REQUEST = Buffer.from(
  `GET /data.json HTTP/1.1\r\nHost: 127.0.0.1:${backendPort}\r\nUser-Agent: raw\r\n\r\n`,
  'latin1',
);
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const idle = [];
const waiting = [];
let open = 0;

class Connection {
  constructor() {
    this.socket = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    this.end = -1;
    this.status = 0;
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      open--;
      const at = idle.indexOf(this);
      if (at >= 0) idle.splice(at, 1);
      this.done?.(502, null);
    });
    open++;
  }

  send(done) {
    this.done = done;
    this.socket.write(REQUEST);
  }

  onData(chunk) {
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.headEnd < 0) {
      const at = this.buffer.indexOf(HEAD_END);
      if (at < 0) return;
      this.headEnd = at + 4;
      const head = this.buffer.toString('latin1', 0, at);
      this.status = Number(head.slice(9, 12));
      this.end = this.headEnd + Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
    }
    if (this.buffer.length < this.end) return;
    const body = this.buffer.subarray(this.headEnd, this.end);
    const done = this.done;
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    const next = waiting.shift();
    if (next) this.send(next);
    else idle.push(this);
    done(this.status, body);
  }
}

function request(done) {
  const connection = idle.pop() ?? (open < MAX_CONNECTIONS ? new Connection() : null);
  if (connection) connection.send(done);
  else waiting.push(done);
}

uWS
  .App()
  .get('/__ready', (res) => res.end('ok'))
  .get('/noop', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    request((status, body) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(status === 200 ? '200 OK' : '502 Bad Gateway');
        res.writeHeader('content-type', 'application/json');
        res.end(body ?? '');
      });
    });
  })
  .listen('127.0.0.1', port, () => {});
process.on('SIGTERM', () => process.exit(0));
