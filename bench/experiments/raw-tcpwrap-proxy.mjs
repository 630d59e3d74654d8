// Experiment (not used by gw): raw-client-proxy.mjs with its sockets on Node's tcp_wrap handles
// (process.binding) instead of node:net, to measure what net.Socket's stream layer costs per
// request. Content-Length responses only, one thread, no timeouts: a ceiling, not a client.
//
//   node bench/experiments/raw-tcpwrap-proxy.mjs PORT BACKEND_PORT
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const uWS = require('uWebSockets.js');
const { TCP, TCPConnectWrap, constants: TCPConstants } = process.binding('tcp_wrap');
const { WriteWrap, kReadBytesOrError, kArrayBufferOffset, streamBaseState } = process.binding('stream_wrap');
const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const MAX_CONNECTIONS = 256;
const REQUEST = `GET /data.json HTTP/1.1\r\nHost: 127.0.0.1:${backendPort}\r\nUser-Agent: raw\r\n\r\n`;
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const idle = [];
const waiting = [];
let open = 0;

function afterWrite() {}

class Connection {
  constructor() {
    const handle = new TCP(TCPConstants.SOCKET);
    this.handle = handle;
    this.connected = false;
    this.pending = null;
    handle.owner = this;
    handle.onread = onread;
    const req = new TCPConnectWrap();
    req.oncomplete = (status) => {
      if (status < 0) return this.close();
      handle.setNoDelay(true);
      handle.readStart();
      this.connected = true;
      if (this.pending !== null) this.write();
    };
    req.address = '127.0.0.1';
    req.port = backendPort;
    const err = handle.connect(req, '127.0.0.1', backendPort);
    if (err) this.close();
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    this.end = -1;
    this.status = 0;
    open++;
  }

  close() {
    open--;
    const at = idle.indexOf(this);
    if (at >= 0) idle.splice(at, 1);
    this.handle.close();
    const done = this.done;
    this.done = null;
    done?.(502, null);
  }

  send(done) {
    this.done = done;
    this.pending = REQUEST;
    if (this.connected) this.write();
  }

  write() {
    const req = new WriteWrap();
    req.handle = this.handle;
    req.oncomplete = afterWrite;
    req.async = false;
    const err = this.handle.writeLatin1String(req, this.pending);
    this.pending = null;
    if (err) this.close();
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

function onread(arrayBuffer) {
  const nread = streamBaseState[kReadBytesOrError];
  const connection = this.owner;
  if (nread > 0) {
    const offset = streamBaseState[kArrayBufferOffset];
    connection.onData(Buffer.from(arrayBuffer, offset, nread));
    return;
  }
  if (nread < 0) connection.close();
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
