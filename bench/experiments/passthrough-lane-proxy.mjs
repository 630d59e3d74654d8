// Experiment (not used by gw): what KrakenD's no-op semantics cost when done the cheapest way this
// stack allows, to size a pass-through lane in gw before building one. Per request: the `host`
// header read alone, the IPv4 peer's text cached, the backend head as one template string
// (User-Agent, Accept-Encoding: gzip, X-Forwarded-For, X-Forwarded-Host), and the backend's head
// handed back as text with the hop-by-hop, Date and Server lines dropped and X-Krakend /
// X-Krakend-Completed appended, in one uWS call. The answer is the same as gw's no-op (header
// names keep the backend's case). Content-Length responses only, GET /noop only, no deadline.
//
//   node bench/experiments/passthrough-lane-proxy.mjs PORT BACKEND_PORT
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const uWS = require('uWebSockets.js');
const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const BACKEND_HOST = `127.0.0.1:${backendPort}`;
const SKIP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);
const KRAKEND_LINES = '\r\nX-Krakend: Version 0.1.0\r\nX-Krakend-Completed: false';
const MAX_CONNECTIONS = 256;
const ipTexts = new Map();
const idle = [];
const waiting = [];
let open = 0;

function clientIp(res) {
  const b = new Uint8Array(res.getRemoteAddress());
  const key = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  let text = ipTexts.get(key);
  if (text === undefined) {
    text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
    ipTexts.set(key, text);
  }
  return text;
}

/** The status text and the header lines to pass back, as one string; the body's length. */
function passedHead(text) {
  const first = text.indexOf('\r\n');
  let out = text.slice(9, first);
  let length = 0;
  let from = first + 2;
  while (from < text.length) {
    let eol = text.indexOf('\r\n', from);
    if (eol < 0) eol = text.length;
    const colon = text.indexOf(':', from);
    const name = text.slice(from, colon).toLowerCase();
    if (name === 'content-length') length = Number(text.slice(colon + 1, eol));
    if (!SKIP.has(name)) out += `\r\n${text.slice(from, eol)}`;
    from = eol + 2;
  }
  return { head: out + KRAKEND_LINES, length };
}

class Connection {
  constructor() {
    this.socket = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    this.end = -1;
    this.head = '';
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      open--;
      const at = idle.indexOf(this);
      if (at >= 0) idle.splice(at, 1);
      this.done?.(null, null);
    });
    open++;
  }

  send(head, done) {
    this.done = done;
    this.socket.write(head, 'latin1');
  }

  onData(chunk) {
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.headEnd < 0) {
      const at = this.buffer.indexOf('\r\n\r\n', 0, 'latin1');
      if (at < 0) return;
      this.headEnd = at + 4;
      const { head, length } = passedHead(this.buffer.latin1Slice(0, at));
      this.head = head;
      this.end = this.headEnd + length;
    }
    if (this.buffer.length < this.end) return;
    const body = this.buffer.subarray(this.headEnd, this.end);
    const done = this.done;
    const head = this.head;
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    const next = waiting.shift();
    if (next) this.send(next[0], next[1]);
    else idle.push(this);
    done(head, body);
  }
}

function request(head, done) {
  const connection = idle.pop() ?? (open < MAX_CONNECTIONS ? new Connection() : null);
  if (connection) connection.send(head, done);
  else waiting.push([head, done]);
}

uWS
  .App()
  .get('/__ready', (res) => res.end('ok'))
  .get('/noop', (res, req) => {
    const head = `GET /data.json HTTP/1.1\r\nHost: ${BACKEND_HOST}\r\nUser-Agent: KrakenD Version 0.1.0\r\nAccept-Encoding: gzip\r\nX-Forwarded-For: ${clientIp(res)}\r\nX-Forwarded-Host: ${req.getHeader('host')}\r\n\r\n`;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    request(head, (status, body) => {
      if (aborted) return;
      res.cork(() => {
        if (status === null) res.writeStatus('500 Internal Server Error').end();
        else res.writeStatus(status).end(body);
      });
    });
  })
  .listen('127.0.0.1', port, () => {});
process.on('SIGTERM', () => process.exit(0));
