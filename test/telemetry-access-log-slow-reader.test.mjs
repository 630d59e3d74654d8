// The access log when whoever reads gw's stdout stops reading for a while (a stuck log shipper):
// no line is lost or written twice, and with several workers (stdout non-blocking) the gateway
// keeps answering while the lines wait. Lines are ~400 bytes, 1,500 of them per stall: more
// than a pipe or socket buffer holds.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LineBuffer } from '../dist/telemetry/logger.js';
import { jsonBackend, startGateway } from './helpers/gateway.mjs';

const REQUESTS = 1500;
const PAD = 'p'.repeat(360);

async function sendAll(url, count, concurrency, first = 0) {
  const statuses = [];
  let next = first;
  count += first;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${url}/log/${PAD}-${i}`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

function loggedIndexes(out) {
  const seen = new Map();
  for (const m of out.matchAll(/\[GIN\] [^\n]*"\/log\/p+-(\d+)"\n/g))
    seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  return seen;
}

async function waitForLines(gw, count, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (loggedIndexes(gw.logs()).size < count && Date.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  return loggedIndexes(gw.logs());
}

function configFor(backendUrl) {
  return {
    version: 3,
    extra_config: { 'telemetry/logging': { level: 'WARNING', stdout: true } },
    endpoints: [
      {
        endpoint: '/log/{id}',
        backend: [{ host: [backendUrl], url_pattern: '/doc' }],
      },
    ],
  };
}

test('several workers: requests are answered while stdout is not read, and every line arrives later', async (t) => {
  const backend = await jsonBackend({ '/doc': { ok: true } });
  t.after(() => backend.close());
  const gw = await startGateway(configFor(backend.url), { args: ['--workers', '2'] });
  t.after(() => gw.stop());
  // Three stalls: each gives both workers' queued chunks a chance to meet on the full pipe,
  // where a chunk written in part must not have the other worker's lines written into it.
  for (let round = 1; round <= 3; round++) {
    gw.child.stdout.pause();
    const statuses = await sendAll(gw.url, REQUESTS, 16, (round - 1) * REQUESTS);
    assert.equal(statuses.length, REQUESTS);
    assert.ok(
      statuses.every((s) => s === 200),
      'every request answered while nobody reads the log',
    );
    assert.ok(loggedIndexes(gw.logs()).size < round * REQUESTS, 'the reader really was stopped');
    gw.child.stdout.resume();
    const seen = await waitForLines(gw, round * REQUESTS, 10000);
    assert.equal(seen.size, round * REQUESTS, `one line per request (round ${round})`);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'no line written twice',
    );
  }
});

test('one worker: a reader that pauses loses no line', async (t) => {
  const backend = await jsonBackend({ '/doc': { ok: true } });
  t.after(() => backend.close());
  const gw = await startGateway(configFor(backend.url));
  t.after(() => gw.stop());
  {
    gw.child.stdout.pause();
    const sent = sendAll(gw.url, REQUESTS, 16);
    await new Promise((r) => setTimeout(r, 500));
    gw.child.stdout.resume();
    const statuses = await sent;
    assert.ok(statuses.every((s) => s === 200));
    const seen = await waitForLines(gw, REQUESTS, 10000);
    assert.equal(seen.size, REQUESTS, 'one line per request');
    assert.ok([...seen.values()].every((n) => n === 1));
  }
});

test('LineBuffer: every character and line in order, lines larger than its buffer included', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-linebuffer-'));
  const file = join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    const out = new LineBuffer(fd);
    const expected = [];
    for (let i = 0; i < 3000; i++) {
      // multi-byte characters (2, 3 and 4 bytes in UTF-8) across chunk boundaries
      const line =
        i === 1000 ? `${'é€😀'.repeat(12000)}\n` : `[GIN] ${i} µs ${'é€😀'.repeat(i % 7)} "/p/${i}"\n`;
      out.write(line);
      expected.push(line);
    }
    out.flushSync();
    assert.equal(readFileSync(file, 'utf8'), expected.join(''));
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
