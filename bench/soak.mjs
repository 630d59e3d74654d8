// The soak: `gw run` under mixed traffic for ten minutes while its backends misbehave, to show
// that nothing takes it down and nothing grows without bound. Every 5 s it samples gw's resident
// memory, the p99 latency of the healthy endpoints, and the answers that were not what each
// endpoint should answer; it prints the table and draws the three series as a chart.
//
//   node bench/soak.mjs [--duration 600] [--rate 200] [--workers 2] [--out bench/results]
//
// Endpoints (one gw config, backends in this process on 127.0.0.1):
//   /ok      no-op, 1.4 KB                                  must answer 200
//   /merged  two backends merged                            must answer 200
//   /flaky   a backend that closes each keep-alive           must answer 200 (the retry on a
//            connection 10 ms after answering                 new connection)
//   /large   no-op, 2 MB (also what the slow readers ask)   must answer 200
//   /reset   a backend that resets mid-body                 must answer 500, never hang
//   /hang    a backend that never answers (300 ms timeout)  must answer 500
//   /bomb    1 MB of gzip that inflates to 1 GiB             must answer 500 (the inflate limit)
// Slow readers: every 30 s, 20 connections ask /large and read nothing for 20 s, then go.
// "Unexpected" counts every answer other than the one listed, and every connection error.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { DATA_JSON, SECOND_JSON } from './lib/docs.mjs';
import { freePort, waitForHttp } from './lib/proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const durationS = Number(option('--duration', '600'));
const rate = Number(option('--rate', '200'));
const workers = option('--workers', '2');
const outDir = resolve(option('--out', join(HERE, 'results')));
const SAMPLE_S = Math.min(5, Math.max(1, Math.floor(durationS / 10)));

// --- backends ----------------------------------------------------------------------------
const LARGE = Buffer.alloc(2 * 1024 * 1024, 'x');
const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
const BOMB = Buffer.concat(Array.from({ length: 64 }, () => member));

const backend = http.createServer((req, res) => {
  switch (req.url) {
    case '/data.json':
      res.writeHead(200, { 'content-type': 'application/json' }).end(DATA_JSON);
      return;
    case '/b.json':
      res.writeHead(200, { 'content-type': 'application/json' }).end(SECOND_JSON);
      return;
    case '/large':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(LARGE);
      return;
    case '/reset':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 5);
      return;
    case '/hang':
      return; // never answered; gw's deadline ends it
    case '/bomb':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(BOMB);
      return;
    default:
      res.writeHead(404).end();
  }
});
// Answers one request per connection as keep-alive, then closes it 10 ms later without a word.
const flaky = net.createServer((socket) => {
  socket.on('error', () => {});
  let head = '';
  let answered = false;
  socket.on('data', (d) => {
    head += d.toString('latin1');
    if (answered || !head.includes('\r\n\r\n')) return;
    answered = true;
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${DATA_JSON.length}\r\n\r\n${DATA_JSON}`,
    );
    setTimeout(() => socket.destroy(), 10);
  });
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
await new Promise((r) => flaky.listen(0, '127.0.0.1', r));
const be = `http://127.0.0.1:${backend.address().port}`;
const flakyUrl = `http://127.0.0.1:${flaky.address().port}`;

// --- gw ------------------------------------------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'gw-soak-'));
const port = await freePort();
const noop = (endpoint, host, path, extra = {}) => ({
  endpoint,
  output_encoding: 'no-op',
  ...extra,
  backend: [{ host: [host], url_pattern: path, encoding: 'no-op' }],
});
const config = {
  version: 3,
  port,
  listen_ip: '127.0.0.1',
  timeout: '2s',
  extra_config: { router: { disable_access_log: true } },
  endpoints: [
    noop('/ok', be, '/data.json'),
    {
      endpoint: '/merged',
      backend: [
        { host: [be], url_pattern: '/data.json', group: 'a' },
        { host: [be], url_pattern: '/b.json', group: 'b' },
      ],
    },
    noop('/flaky', flakyUrl, '/'),
    noop('/large', be, '/large'),
    { endpoint: '/reset', backend: [{ host: [be], url_pattern: '/reset' }] },
    { endpoint: '/hang', timeout: '300ms', backend: [{ host: [be], url_pattern: '/hang' }] },
    { endpoint: '/bomb', backend: [{ host: [be], url_pattern: '/bomb' }] },
  ],
};
const configFile = join(tmp, 'krakend.json');
writeFileSync(configFile, JSON.stringify(config));
const gw = spawn(
  process.execPath,
  [join(ROOT, 'bin', 'gw.js'), 'run', '-c', configFile, '--workers', workers],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let gwErr = '';
gw.stderr.on('data', (d) => (gwErr += d));
await waitForHttp(`http://127.0.0.1:${port}/ok`, 'gw', 20000, { child: gw });
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))[1]) / 1024;

// --- traffic --------------------------------------------------------------------------------
/** [path, share of requests, expected status]. */
const MIX = [
  ['/ok', 0.4, 200],
  ['/merged', 0.2, 200],
  ['/flaky', 0.2, 200],
  ['/large', 0.05, 200],
  ['/reset', 0.07, 500],
  ['/hang', 0.065, 500],
  ['/bomb', 0.015, 500],
];
const pick = () => {
  let r = Math.random();
  for (const m of MIX) {
    r -= m[1];
    if (r <= 0) return m;
  }
  return MIX[0];
};
const dispatcher = new Agent({ connections: 64, headersTimeout: 10000, bodyTimeout: 10000 });
const window = () => ({
  sent: 0,
  answered: 0,
  unexpected: 0,
  expectedFaults: 0,
  latencies: [],
  notes: new Map(),
});
let current = window();
const samples = [];
let running = true;
let inFlight = 0;

async function one() {
  const [path, , expected] = pick();
  const w = current;
  w.sent++;
  inFlight++;
  const started = performance.now();
  try {
    const res = await request(`http://127.0.0.1:${port}${path}`, { dispatcher });
    await res.body.dump({ limit: Number.POSITIVE_INFINITY });
    w.answered++;
    if (res.statusCode !== expected) {
      w.unexpected++;
      const note = `${path} ${res.statusCode}`;
      w.notes.set(note, (w.notes.get(note) ?? 0) + 1);
    } else if (expected !== 200) w.expectedFaults++;
    else if (path === '/ok' || path === '/merged') w.latencies.push(performance.now() - started);
  } catch (err) {
    w.unexpected++;
    const note = `${path} ${err.code ?? err.message}`;
    w.notes.set(note, (w.notes.get(note) ?? 0) + 1);
  } finally {
    inFlight--;
  }
}

/** 20 connections that ask /large and read nothing for 20 s. */
function slowReaders() {
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET /large HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause();
    });
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 20000).unref();
  }
}

const startedAt = performance.now();
const tick = setInterval(() => {
  if (running) for (let i = 0; i < rate / 100; i++) void one();
}, 10);
const readers = setInterval(slowReaders, 30000);
slowReaders();
const sampler = setInterval(() => {
  const w = current;
  current = window();
  const sorted = w.latencies.sort((a, b) => a - b);
  const p99 = sorted.length > 0 ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] : 0;
  const sample = {
    t: Math.round((performance.now() - startedAt) / 1000),
    rssMb: Math.round(rssMb()),
    p99Ms: Math.round(p99 * 10) / 10,
    sent: w.sent,
    answered: w.answered,
    expectedFaults: w.expectedFaults,
    unexpected: w.unexpected,
    notes: Object.fromEntries(w.notes),
  };
  samples.push(sample);
  console.log(
    `${String(sample.t).padStart(4)} s  RSS ${String(sample.rssMb).padStart(4)} MB  p99 ${String(sample.p99Ms).padStart(6)} ms  ` +
      `${sample.answered} answered, ${sample.expectedFaults} faults answered as due, ${sample.unexpected} unexpected` +
      (w.notes.size > 0 ? ` ${JSON.stringify(sample.notes)}` : ''),
  );
}, SAMPLE_S * 1000);

await new Promise((r) => setTimeout(r, durationS * 1000));
running = false;
clearInterval(tick);
clearInterval(readers);
for (let i = 0; i < 100 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
clearInterval(sampler);
const alive = gw.exitCode === null;
gw.kill('SIGTERM');
await new Promise((r) => gw.once('exit', r));
await dispatcher.close();
backend.close();
flaky.close();

// --- report ---------------------------------------------------------------------------------
const total = (k) => samples.reduce((n, s) => n + s[k], 0);
const rss = samples.map((s) => s.rssMb);
const firstHalf = rss.slice(0, Math.ceil(rss.length / 2));
const secondHalf = rss.slice(Math.ceil(rss.length / 2));
const max = (xs) => Math.max(...xs);
const summary = {
  when: new Date().toISOString(),
  node: process.version,
  durationS,
  rate,
  workers: Number(workers),
  gwAlive: alive,
  answered: total('answered'),
  expectedFaults: total('expectedFaults'),
  unexpected: total('unexpected'),
  rssMb: {
    first: rss[0],
    max: max(rss),
    last: rss.at(-1),
    maxFirstHalf: max(firstHalf),
    maxSecondHalf: max(secondHalf),
  },
  p99MsMax: max(samples.map((s) => s.p99Ms)),
};
console.log(
  `soak: ${durationS} s at ${rate} req/s, gw ${alive ? 'alive' : 'DEAD'}: ${summary.answered} answered, ` +
    `${summary.expectedFaults} faults answered as due, ${summary.unexpected} unexpected; ` +
    `RSS ${summary.rssMb.first} → max ${summary.rssMb.max} → ${summary.rssMb.last} MB ` +
    `(max ${summary.rssMb.maxFirstHalf} in the first half, ${summary.rssMb.maxSecondHalf} in the second)`,
);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'soak-latest.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
writeFileSync(join(outDir, 'soak-latest.svg'), chart(samples, summary));
console.log(`soak: ${join(outDir, 'soak-latest.json')}, ${join(outDir, 'soak-latest.svg')}`);
if (gwErr.trim() !== '') console.log(`gw stderr:\n${gwErr}`);
process.exit(alive ? 0 : 1);

/** Three panels over time: RSS (MB), p99 of /ok and /merged (ms), unexpected answers. */
function chart(points, s) {
  const W = 900;
  const H = 170;
  const left = 60;
  const right = 20;
  const panels = [
    ['resident memory (MB)', 'rssMb', '#1f77b4'],
    ['p99 latency of /ok and /merged (ms)', 'p99Ms', '#ff7f0e'],
    ['unexpected answers per sample', 'unexpected', '#d62728'],
  ];
  const tMax = Math.max(1, ...points.map((p) => p.t));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * panels.length + 40}" font-family="Helvetica, Arial, sans-serif" font-size="11">\n`;
  svg += `<text x="${left}" y="18" font-size="13" font-weight="bold">gw soak: ${s.durationS} s at ${s.rate} req/s, ${s.workers} workers, ${s.node}; ${s.answered} answered, ${s.unexpected} unexpected</text>\n`;
  panels.forEach(([title, key, color], i) => {
    const top = 40 + i * H;
    const h = H - 40;
    const vMax = Math.max(1, ...points.map((p) => p[key])) * 1.1;
    const x = (t) => left + ((W - left - right) * t) / tMax;
    const y = (v) => top + h - (h * v) / vMax;
    svg += `<text x="${left}" y="${top - 6}">${title}</text>\n`;
    svg += `<line x1="${left}" y1="${top + h}" x2="${W - right}" y2="${top + h}" stroke="#999"/>\n`;
    svg += `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#999"/>\n`;
    for (const f of [0, 0.5, 1]) {
      const v = vMax * f;
      svg += `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v >= 10 ? Math.round(v) : v.toFixed(1)}</text>\n`;
    }
    svg += `<text x="${W - right}" y="${top + h + 14}" text-anchor="end" fill="#555">${tMax} s</text>\n`;
    const path = points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`)
      .join(' ');
    svg += `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>\n`;
  });
  return `${svg}</svg>\n`;
}
