// WebSockets through gw beside a direct `ws`-to-`ws` baseline: echo round trips per second, and
// the memory one more open connection costs. Three targets, with the same client (`ws`, in this
// process) and the same echo server (`ws`, bench/lib/ws-echo.mjs, its own process):
//   baseline   client → echo server
//   direct     client → gw (`enable_direct_communication`) → echo server
//   mux        client → gw (multiplexing, one channel) → echo server answering envelopes
// Throughput: `--clients` connections each keep `--window` messages of `--size` bytes in flight for
// `--seconds`; rounds alternate the targets so that the neighbours' load hits them alike; the
// median round is reported. Memory: `--idle` more connections opened and left idle; the growth of
// the serving process's RSS (/proc/PID/status) divided by their number (for `direct`, gw's growth;
// the echo server grows too, as for the baseline).
//
//   node bench/websocket.mjs [--rounds 3] [--seconds 3] [--clients 32] [--window 8] [--size 64] [--idle 1000] [--front auto|uws|node]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, startProcess } from './lib/proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const GW_BIN = join(HERE, '..', 'bin', 'gw.js');
const opts = { rounds: 3, seconds: 3, clients: 32, window: 8, size: 64, idle: 1000, front: 'auto' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts)) {
    console.error(`unknown argument ${argv[i]}`);
    process.exit(2);
  }
  opts[key] = key === 'front' ? argv[i + 1] : Number(argv[i + 1]);
}

const procs = [];
async function startServer(cmd, args, readyRe) {
  const p = startProcess(cmd, args, { stdout: 'pipe' });
  procs.push(p);
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`${args.join(' ')} did not start: ${out} ${p.stderr()}`)),
      20000,
    );
    p.child.stdout.on('data', (d) => {
      out += d;
      if (readyRe.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return p;
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Round trips per second over `opts.seconds` with `opts.clients` × `opts.window` in flight. */
async function throughput(url) {
  const sockets = await Promise.all(Array.from({ length: opts.clients }, () => connect(url)));
  const payload = Buffer.alloc(opts.size, 97).toString();
  let done = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      done++;
      if (running) ws.send(payload);
    });
    for (let i = 0; i < opts.window; i++) ws.send(payload);
  }
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  const start = done;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  const rate = ((done - start) * 1000) / (performance.now() - t0);
  running = false;
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => setTimeout(r, 300));
  return rate;
}

/** RSS growth of `pids` per idle connection. */
async function memoryPerConnection(url, pids) {
  const before = pids.map(rssBytes);
  const sockets = [];
  for (let i = 0; i < opts.idle; i += 50)
    sockets.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, opts.idle - i) }, () => connect(url)))),
    );
  await new Promise((r) => setTimeout(r, 1500));
  const after = pids.map(rssBytes);
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => setTimeout(r, 1000));
  return after.map((a, i) => (a - before[i]) / opts.idle);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A gw serving /direct and /mux against the given echo servers. */
async function startGw(plainPort, muxPort) {
  const gwPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-ws-'));
  const cfg = join(dir, 'krakend.json');
  const websocket = { max_message_size: 1 << 20 };
  const backend = (port) => [
    { url_pattern: '/', disable_host_sanitize: true, host: [`ws://127.0.0.1:${port}`] },
  ];
  writeFileSync(
    cfg,
    JSON.stringify({
      version: 3,
      listen_ip: '127.0.0.1',
      extra_config: { router: { disable_access_log: true } },
      endpoints: [
        {
          endpoint: '/direct',
          backend: backend(plainPort),
          extra_config: { websocket: { ...websocket, enable_direct_communication: true } },
        },
        { endpoint: '/mux', backend: backend(muxPort), extra_config: { websocket } },
      ],
    }),
  );
  const gw = await startServer(
    process.execPath,
    [GW_BIN, 'run', '-c', cfg, '-p', String(gwPort), '--workers', '1', '--front', opts.front],
    /listening on/,
  );
  await new Promise((r) => setTimeout(r, 500));
  return { gw, port: gwPort };
}

async function startEcho(mode) {
  const port = await freePort();
  const p = await startServer(
    process.execPath,
    [join(HERE, 'lib', 'ws-echo.mjs'), String(port), mode],
    /ready/,
  );
  return { p, port };
}

try {
  // Memory first, each target on fresh processes: RSS a previous phase grew is not reused.
  const memory = {};
  {
    const echo = await startEcho('plain');
    memory.baseline = await memoryPerConnection(`ws://127.0.0.1:${echo.port}/`, [echo.p.pid]);
    await echo.p.stop();
  }
  {
    const echo = await startEcho('plain');
    const { gw, port } = await startGw(echo.port, 1);
    memory.direct = await memoryPerConnection(`ws://127.0.0.1:${port}/direct`, [gw.pid, echo.p.pid]);
    await gw.stop();
    await echo.p.stop();
  }
  {
    const echo = await startEcho('mux');
    const { gw, port } = await startGw(1, echo.port);
    await new Promise((r) => setTimeout(r, 500));
    memory.mux = await memoryPerConnection(`ws://127.0.0.1:${port}/mux`, [gw.pid]);
    await gw.stop();
    await echo.p.stop();
  }
  const plain = await startEcho('plain');
  const mux = await startEcho('mux');
  const { port: gwPort } = await startGw(plain.port, mux.port);
  const targets = {
    baseline: `ws://127.0.0.1:${plain.port}/`,
    direct: `ws://127.0.0.1:${gwPort}/direct`,
    mux: `ws://127.0.0.1:${gwPort}/mux`,
  };
  const rates = { baseline: [], direct: [], mux: [] };
  for (let r = 0; r < opts.rounds; r++)
    for (const name of Object.keys(targets)) rates[name].push(await throughput(targets[name]));
  console.log(
    `node ${process.version}, gw --front ${opts.front}, ${opts.clients} clients × ${opts.window} in flight, ${opts.size} B messages, ${opts.rounds} rounds of ${opts.seconds} s, ${opts.idle} idle connections`,
  );
  console.log('target     round trips/s: median (rounds)        RSS per idle connection');
  for (const name of Object.keys(targets)) {
    const mem = memory[name];
    const memText =
      name === 'direct'
        ? `gw ${(mem[0] / 1024).toFixed(1)} KiB (+ echo server ${(mem[1] / 1024).toFixed(1)} KiB)`
        : `${(mem[0] / 1024).toFixed(1)} KiB (${name === 'baseline' ? 'echo server' : 'gw'})`;
    const rateText = `${String(Math.round(median(rates[name]))).padStart(8)} (${rates[name].map((x) => Math.round(x)).join(', ')})`;
    console.log(`${name.padEnd(10)} ${rateText.padEnd(34)} ${memText}`);
  }
} finally {
  for (const p of procs) await p.stop();
}
