// What the raw proxies of the experiments share (raw-client-proxy.mjs on node:net,
// raw-tcpwrap-proxy.mjs on tcp_wrap handles): a uWS front serving /noop from a pool of at most
// 256 keep-alive connections, and the reading of a Content-Length response. Only how a
// connection's socket is opened, written and read differs: a subclass of RawConnection gives it.
import { loadBenchUws } from '../lib/uws.mjs';

const { uws: uWS } = loadBenchUws();
const MAX_CONNECTIONS = 256;
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** The request every connection sends. */
export function rawRequest(backendPort) {
  return `GET /data.json HTTP/1.1\r\nHost: 127.0.0.1:${backendPort}\r\nUser-Agent: raw\r\n\r\n`;
}

/** One keep-alive connection: subclasses write `request` (`write`) and hand reads to `onData`. */
export class RawConnection {
  constructor(pool) {
    this.pool = pool;
    this.done = null;
    this.buffer = null;
    this.headEnd = -1;
    this.end = -1;
    this.status = 0;
  }

  send(done) {
    this.done = done;
    this.write();
  }

  /** The socket is gone: the request in flight fails, the pool forgets the connection. */
  closed() {
    this.pool.forget(this);
    const done = this.done;
    this.done = null;
    done?.(502, null);
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
    this.pool.release(this);
    done(this.status, body);
  }
}

/** Serves /noop on `port` through connections made by `connect(pool)`. */
export function serveRawProxy(port, connect) {
  const idle = [];
  const waiting = [];
  let open = 0;
  const pool = {
    release(connection) {
      const next = waiting.shift();
      if (next) connection.send(next);
      else idle.push(connection);
    },
    forget(connection) {
      open--;
      const at = idle.indexOf(connection);
      if (at >= 0) idle.splice(at, 1);
    },
  };
  function request(done) {
    let connection = idle.pop();
    if (connection === undefined && open < MAX_CONNECTIONS) {
      open++;
      connection = connect(pool);
    }
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
}
