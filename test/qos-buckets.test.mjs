// The token-bucket engine: WASM module vs its TypeScript reference on the same inputs, the
// token-bucket arithmetic, bounded memory under key rotation, and exact counts across threads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  AtomicsBuckets,
  compileLimiter,
  DEFAULT_MAX_CLIENTS,
  engineFor,
  hashKey,
  keyHi,
  keyLo,
  layoutBuckets,
  limitSpec,
  wasmAvailable,
} from '../dist/qos/buckets.js';

const NS = 'qos/ratelimit/router';
const service = (cfg) => ({ version: 3, endpoints: [{ endpoint: '/x', extra_config: { [NS]: cfg } }] });
const PATH = `$.endpoints[0].extra_config["${NS}"]`;

function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the WASM module is built and used', () => {
  assert.ok(wasmAvailable(), 'build/ratelimit.wasm loads (run node scripts/build-wasm.mjs)');
  const shared = layoutBuckets(service({ client_max_rate: 1 }), NS, true);
  assert.ok(!(engineFor(shared.memory) instanceof AtomicsBuckets));
});

test('WASM and TypeScript engines decide the same on 3 × 20,000 random requests (eviction included)', () => {
  for (const seed of [1, 2, 3]) {
    const rnd = seeded(seed);
    // A small table (35 clients) and 100 keys: groups fill up and evict.
    const cfg = {
      max_rate: 50,
      capacity: 20,
      client_max_rate: 3,
      client_capacity: 4,
      every: '1s',
      max_clients: 35,
    };
    const a = layoutBuckets(service(cfg), NS, true);
    const b = layoutBuckets(service(cfg), NS, true);
    const wasm = engineFor(a.memory, 'wasm');
    const ref = new AtomicsBuckets(b.memory.buffer);
    const region = a.regions[PATH];
    const spec = limitSpec(cfg, true);
    let now = 1000;
    let passed = 0;
    for (let i = 0; i < 20000; i++) {
      now += rnd() < 0.95 ? rnd() * 0.2 : rnd() * 50;
      if (rnd() < 0.3) {
        const x = wasm.take(region.cell, now, spec.shared.intervalNs, spec.shared.burst);
        const y = ref.take(region.cell, now, spec.shared.intervalNs, spec.shared.burst);
        assert.equal(x, y, `take #${i}`);
        passed += x;
      } else {
        hashKey(`client-${Math.floor(rnd() * 100)}`);
        const args = [
          region.table,
          region.groups,
          keyHi,
          keyLo,
          now,
          spec.client.intervalNs,
          spec.client.burst,
        ];
        const x = wasm.takeKey(...args);
        const y = ref.takeKey(...args);
        assert.equal(x, y, `takeKey #${i}`);
        passed += x;
      }
    }
    assert.ok(passed > 2000 && passed < 18000, `a mix of passes and refusals (${passed})`);
    assert.deepEqual(
      new Uint8Array(a.memory.buffer),
      new Uint8Array(b.memory.buffer),
      'same memory afterwards',
    );
  }
});

test('token bucket: capacity is the burst, max_rate per every is the refill (spike arrest)', () => {
  const cfg = { max_rate: 5, capacity: 10, client_max_rate: 2, every: '1s' };
  const shared = layoutBuckets(service(cfg), NS, true);
  const engine = engineFor(shared.memory);
  const spec = limitSpec(cfg, true);
  const { cell, table, groups } = shared.regions[PATH];
  const take = (t) => engine.take(cell, t, spec.shared.intervalNs, spec.shared.burst);
  let t = 5000;
  let n = 0;
  while (take(t)) n++;
  assert.equal(n, 10, 'a full bucket of 10');
  assert.equal(take(t + 199.9), 0, 'next token after 1s / 5 = 200 ms');
  assert.equal(take(t + 200), 1);
  assert.equal(take(t + 300), 0);
  t += 10_000; // idle long enough: full again, never more than capacity
  n = 0;
  while (take(t)) n++;
  assert.equal(n, 10);

  hashKey('1.2.3.4');
  const takeKey = (at) =>
    engine.takeKey(table, groups, keyHi, keyLo, at, spec.client.intervalNs, spec.client.burst);
  assert.deepEqual(
    [takeKey(t), takeKey(t), takeKey(t)],
    [1, 1, 0],
    'client_capacity defaults to client_max_rate',
  );
  assert.equal(takeKey(t + 500), 1, 'one token per 500 ms');
  assert.equal(takeKey(t + 600), 0);
});

test('memory is bounded: rotating 200,000 keys neither grows memory nor frees a throttled client', () => {
  const cfg = { client_max_rate: 1, client_capacity: 3, every: '1m', max_clients: 7000 };
  const shared = layoutBuckets(service(cfg), NS, true);
  const size = shared.memory.buffer.byteLength;
  const limiter = compileLimiter(shared, PATH, limitSpec(cfg, true));
  let passed = 0;
  for (let i = 0; i < 5; i++) passed += limiter.takeClient('abuser') ? 1 : 0;
  assert.equal(passed, 3);
  for (let i = 0; i < 200_000; i++) limiter.takeClient(`rotating-${i}`);
  assert.equal(shared.memory.buffer.byteLength, size);
  assert.equal(limiter.takeClient('abuser'), false, 'the throttled client kept its (emptiest) bucket');
  assert.ok(size < 7000 * 20 + 65536, `~18 bytes per client (${size} bytes)`);
  assert.equal(limitSpec({ client_max_rate: 1 }, true).maxClients, DEFAULT_MAX_CLIENTS);
});

test('4 threads × 5,000 attempts on one client and one endpoint bucket: exactly the capacity passes', async () => {
  const cfg = { max_rate: 1, capacity: 1000, client_max_rate: 1, client_capacity: 777, every: '1h' };
  const shared = layoutBuckets(service(cfg), NS, true);
  const url = new URL('../dist/qos/buckets.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ compileLimiter, limitSpec }) => {
      const { shared, path, cfg, prefer } = workerData;
      const limiter = compileLimiter(shared, path, limitSpec(cfg, true), prefer);
      let client = 0, endpoint = 0;
      for (let i = 0; i < 5000; i++) {
        if (limiter.takeClient('same-client')) client++;
        if (limiter.takeShared()) endpoint++;
      }
      parentPort.postMessage({ client, endpoint });
    });`;
  const run = (prefer, mem) =>
    Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { shared: mem, path: PATH, cfg, prefer } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
  for (const [prefer, mem] of [
    ['wasm', shared],
    ['js', layoutBuckets(service(cfg), NS, true)],
  ]) {
    const results = await run(prefer, mem);
    const sum = (k) => results.reduce((s, r) => s + r[k], 0);
    assert.equal(sum('client'), 777, `${prefer}: client bucket`);
    assert.equal(sum('endpoint'), 1000, `${prefer}: endpoint bucket`);
  }
});
