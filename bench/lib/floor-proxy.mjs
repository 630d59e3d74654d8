// The "floor" reference proxy: the least code gw's own stack can run per request, to tell how
// much of the gap to nginx is gw's code and how much is uWebSockets.js + undici on this box.
//
//   node bench/lib/floor-proxy.mjs PORT BACKEND_ORIGIN WORKERS
//
// WORKERS worker threads, each with its own uWS app listening on 127.0.0.1:PORT (SO_REUSEPORT,
// as gw does) and its own undici keep-alive Pool (256 connections, pipelining 1) driven through
// `Pool.dispatch` with a raw handler. No config, no header processing, no parsing:
//   /noop   → backend /data.json
//   /large  → backend /large.json
//   /merged → /data.json and /b.json at the same time, answered as {"a":<body1>,"b":<body2>}
//             built by concatenating the bytes
//   /__ready → 200 once every worker listens (503 before)
// Any backend status other than 200, or a backend error, answers 502.
//
// SIGTERM/SIGINT: each worker closes its listen socket (us_listen_socket_close) and its pool
// before the process exits; ending the process while a worker still holds a uWS listen socket
// aborts Node.
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadBenchUws } from './uws.mjs';

if (!isMainThread) runWorker(workerData);
else if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(process.argv.slice(2));

function runMain([portText, backend, workersText]) {
  const port = Number(portText);
  const workers = Number(workersText ?? 1);
  if (!(port > 0) || !backend || !(workers > 0)) {
    process.stderr.write('usage: node bench/lib/floor-proxy.mjs PORT BACKEND_ORIGIN WORKERS\n');
    process.exit(2);
  }
  const threads = [];
  let listening = 0;
  let stopping = false;
  const exited = [];
  for (let id = 0; id < workers; id++) {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port, backend } });
    threads.push(worker);
    exited.push(new Promise((resolve) => worker.once('exit', resolve)));
    worker.on('message', (m) => {
      if (m.type === 'listening' && ++listening === workers)
        for (const t of threads) t.postMessage({ type: 'all-listening' });
      else if (m.type === 'error') {
        process.stderr.write(`floor-proxy: worker ${id}: ${m.error}\n`);
        stop(1);
      }
    });
    worker.once('error', (err) => {
      process.stderr.write(`floor-proxy: worker ${id}: ${err?.stack ?? err}\n`);
      stop(1);
    });
  }
  function stop(code) {
    if (stopping) return;
    stopping = true;
    for (const t of threads) t.postMessage({ type: 'stop' });
    // a worker that does not answer is terminated: by then its listen socket is closed or
    // was never opened
    const timer = setTimeout(() => {
      for (const t of threads) t.terminate();
    }, 3000);
    Promise.all(exited).then(() => {
      clearTimeout(timer);
      process.exit(code);
    });
  }
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
}

async function runWorker({ port, backend }) {
  let uws;
  let Pool;
  try {
    ({ uws } = loadBenchUws());
    ({ Pool } = await import('undici'));
  } catch (err) {
    parentPort.postMessage({ type: 'error', error: `cannot load uWebSockets.js/undici: ${err.message}` });
    return;
  }
  const pool = new Pool(backend, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });

  const MERGE_HEAD = Buffer.from('{"a":');
  const MERGE_MIDDLE = Buffer.from(',"b":');
  const MERGE_TAIL = Buffer.from('}');

  /** One client request: waits for `pending` backend bodies, then answers. */
  class Exchange {
    constructor(res, pending) {
      this.res = res;
      this.pending = pending;
      this.bodies = pending === 1 ? null : [null, null];
      this.body = null;
      this.failed = false;
      this.aborted = false;
      res.onAborted(() => {
        this.aborted = true;
      });
    }

    settle(index, body) {
      if (body === null) this.failed = true;
      else if (this.bodies === null) this.body = body;
      else this.bodies[index] = body;
      if (--this.pending > 0 || this.aborted) return;
      const res = this.res;
      res.cork(() => {
        if (this.failed) res.writeStatus('502 Bad Gateway').end();
        else
          res
            .writeHeader('content-type', 'application/json')
            .end(
              this.bodies === null
                ? this.body
                : Buffer.concat([MERGE_HEAD, this.bodies[0], MERGE_MIDDLE, this.bodies[1], MERGE_TAIL]),
            );
      });
    }
  }

  /** The raw undici dispatch handler of one backend call. */
  class Upstream {
    constructor(exchange, index) {
      this.exchange = exchange;
      this.index = index;
      this.status = 0;
      this.chunks = [];
      this.size = 0;
    }
    onConnect() {}
    onHeaders(status) {
      this.status = status;
      return true;
    }
    onData(chunk) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      return true;
    }
    onComplete() {
      if (this.status !== 200) return this.exchange.settle(this.index, null);
      const chunks = this.chunks;
      this.exchange.settle(this.index, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size));
    }
    onError() {
      this.exchange.settle(this.index, null);
    }
  }

  const call = (exchange, index, path) => {
    try {
      pool.dispatch({ path, method: 'GET' }, new Upstream(exchange, index));
    } catch {
      exchange.settle(index, null);
    }
  };

  let allListening = false;
  const app = uws.App();
  app.get('/noop', (res) => call(new Exchange(res, 1), 0, '/data.json'));
  app.get('/large', (res) => call(new Exchange(res, 1), 0, '/large.json'));
  app.get('/merged', (res) => {
    const exchange = new Exchange(res, 2);
    call(exchange, 0, '/data.json');
    call(exchange, 1, '/b.json');
  });
  app.get('/__ready', (res) => {
    res.cork(() => (allListening ? res.end('ok') : res.writeStatus('503 Service Unavailable').end()));
  });
  app.any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').end());
  });

  let listenSocket = null;
  app.listen('127.0.0.1', port, (socket) => {
    if (!socket) {
      parentPort.postMessage({ type: 'error', error: `cannot listen on 127.0.0.1:${port}` });
      return;
    }
    listenSocket = socket;
    parentPort.postMessage({ type: 'listening' });
  });

  parentPort.on('message', (m) => {
    if (m.type === 'all-listening') allListening = true;
    else if (m.type === 'stop') {
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = null;
      app.close?.();
      pool
        .destroy()
        .catch(() => {})
        .finally(() => {
          parentPort.close();
          process.exit(0);
        });
    }
  });
}
