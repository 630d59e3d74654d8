// Response transform: the WASM path against the best JS path (JSON.parse → TS reference →
// JSON.stringify), on realistic documents of about 1 KB, 4 KB, 16 KB and 256 KB and several
// manipulation mixes. Both paths take bytes and return bytes (copies into and out of WASM memory
// included). The JS baseline skips the depth check the production JS path does, to be the fastest
// JS there is.
//
//   npm run bench:transform                  table
//   npm run bench:transform -- --json        …and the results as one JSON object on the last line
//   options: --rounds N (default 5, the median is reported), --ms N (time per round per path, 150),
//            --only NAME_SUBSTRING, --shapes (also the adversarial shapes behind the measured rule
//            of createWasmEndpointTransform: tiny, pretty-printed, non-ASCII, wide, deep wildcards)
import { createWasmEndpointTransform, jsEndpointTransform } from '../dist/transform/wasm/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const asJson = args.includes('--json');
const withShapes = args.includes('--shapes');
const ROUNDS = Number(opt('rounds', 5));
const ROUND_MS = Number(opt('ms', 150));
const ONLY = opt('only', '');

// Deterministic content (xorshift), so every run measures the same bytes.
let seed = 42;
const rnd = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
};
const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(
    ' ',
  );
const words = (n) => Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');

function order(i) {
  return {
    order_id: 100000 + i,
    sku: `SKU-${Math.floor(rnd() * 1e6)}`,
    title: words(4),
    quantity: 1 + Math.floor(rnd() * 5),
    unit_price: Math.round(rnd() * 10000) / 100,
    currency: 'EUR',
    shipped: rnd() > 0.5,
    tags: [words(1), words(1)],
    warehouse: {
      code: `W${Math.floor(rnd() * 90) + 10}`,
      city: words(1),
      lat: rnd() * 180 - 90,
      lng: rnd() * 360 - 180,
    },
  };
}

/** A user-profile-with-orders document (the jsonplaceholder style of the docs) of about `bytes`. */
function userDoc(bytes) {
  const doc = {
    id: 1,
    name: 'Leanne Graham',
    username: 'Bret',
    email: 'Sincere@april.biz',
    password: 'hunter2',
    token: 'eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo',
    address: {
      street: 'Kulas Light',
      suite: 'Apt. 556',
      city: 'Gwenborough',
      zipcode: '92998-3874',
      geo: { lat: '-37.3159', lng: '81.1496' },
    },
    phone: '1-770-736-8031 x56442',
    website: 'hildegard.org',
    company: {
      name: 'Romaguera-Crona',
      catchPhrase: 'Multi-layered client-server neural-net',
      bs: 'harness real-time e-markets',
    },
    orders: [],
  };
  let i = 0;
  while (JSON.stringify(doc).length < bytes) doc.orders.push(order(i++));
  if (doc.orders.length > 1) doc.orders.pop();
  return Buffer.from(JSON.stringify(doc));
}

/** A collection of posts (a backend answering with an array) of about `bytes`. */
function postsDoc(bytes) {
  const posts = [];
  let i = 0;
  while (JSON.stringify(posts).length < bytes) {
    posts.push({ userId: 1 + (i % 10), id: i + 1, title: words(6), body: words(20), draft: rnd() > 0.8 });
    i++;
  }
  if (posts.length > 1) posts.pop();
  return Buffer.from(JSON.stringify(posts));
}

const SIZES = [
  ['1KB', 1024],
  ['4KB', 4096],
  ['16KB', 16384],
  ['256KB', 262144],
];

const MIXES = [
  {
    name: 'allow',
    plan: { backends: [{ allow: ['id', 'name', 'email', 'address.city'] }] },
    bodies: (n) => [userDoc(n)],
  },
  {
    name: 'deny',
    plan: { backends: [{ deny: ['password', 'token', 'address.geo'] }] },
    bodies: (n) => [userDoc(n)],
  },
  {
    name: 'mapping+group',
    plan: { backends: [{ mapping: { email: 'personal_email', id: 'user_id' }, group: 'user' }] },
    bodies: (n) => [userDoc(n)],
  },
  {
    name: 'merge2',
    plan: { backends: [{}, { target: 'company', group: 'employer' }] },
    bodies: (n) => [userDoc(n / 2), userDoc(n / 2)],
  },
  {
    name: 'flatmap-collection',
    plan: {
      backends: [
        {
          isCollection: true,
          flatmap: [
            { type: 'move', args: ['collection.*.title', 'collection.*.headline'] },
            { type: 'del', args: ['collection.*.body'] },
          ],
        },
      ],
    },
    bodies: (n) => [postsDoc(n)],
  },
];

/**
 * ns per run: CPU time of this process (user + system, all its threads: GC included) over as many
 * runs as fit in `ms` of CPU. CPU time rather than wall time, because the machine is shared: wall
 * time counts the moments another process had the core.
 */
const CJK = {
  items: Array.from({ length: 200 }, (_, i) => ({ id: i, text: '日本語のテキストです。これは長い文章です' })),
};
const toBody = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
// Documents and plans picked to be hard for the WASM path (the bench's mixes are the common ones).
const SHAPES = [
  { name: 'shape: 15 B body, allow', plan: { backends: [{ allow: ['a'] }] }, bodies: [{ a: 1, b: 'x' }] },
  { name: 'shape: 15 B body, no manipulation', plan: { backends: [{}] }, bodies: [{ a: 1, b: 'x' }] },
  { name: 'shape: non-ASCII text, allow', plan: { backends: [{ allow: ['items'] }] }, bodies: [CJK] },
  {
    name: 'shape: escaped (\\uXXXX) text, allow',
    plan: { backends: [{ allow: ['items'] }] },
    bodies: [
      JSON.stringify(CJK).replace(
        /[^ -~\t\n\r]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      ),
    ],
  },
  {
    name: 'shape: pretty-printed, allow',
    plan: { backends: [{ allow: ['items'] }] },
    bodies: [JSON.stringify(CJK, null, 2).replace(/[^ -~\t\n\r]/g, 'x')],
  },
  {
    name: 'shape: 2,000-key object, mapping',
    plan: { backends: [{ mapping: { k5: 'z' } }] },
    bodies: [Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]))],
  },
  {
    name: 'shape: collection, wildcard del + nested move',
    plan: {
      backends: [
        {
          isCollection: true,
          flatmap: [
            { type: 'del', args: ['collection.*.tags.*'] },
            { type: 'move', args: ['collection.*.w.c', 'collection.*.w.d'] },
          ],
        },
      ],
    },
    bodies: [Array.from({ length: 150 }, (_, i) => ({ id: i, tags: ['a', 'b', 'c'], w: { c: 1, e: 2 } }))],
  },
  {
    name: 'shape: endpoint flatmap under a moved group',
    plan: {
      backends: [{ group: 'g', flatmap: [{ type: 'move', args: ['items', 'list'] }] }, {}],
      endpointFlatmap: [{ type: 'del', args: ['g.list.*.text'] }],
    },
    bodies: [CJK, { x: 1 }],
  },
];

function timeOne(fn, parts, ms) {
  for (let i = 0; i < 20; i++) fn.run(parts);
  let n = 0;
  const c0 = process.cpuUsage();
  const limitUs = ms * 1000;
  let usedUs = 0;
  let batch = 8;
  while (usedUs < limitUs) {
    for (let i = 0; i < batch; i++) fn.run(parts);
    n += batch;
    const c = process.cpuUsage(c0);
    usedUs = c.user + c.system;
    if (batch < 4096) batch *= 2;
  }
  return (usedUs * 1000) / n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const cases = [];
for (const mix of MIXES) {
  for (const [label, size] of SIZES) {
    const name = `${mix.name} ${label}`;
    if (ONLY && !name.includes(ONLY)) continue;
    seed = 42; // the same bytes whatever --only selects
    const bodies = mix.bodies(size);
    const parts = bodies.map((body, index) => ({ index, body }));
    const js = jsEndpointTransform(mix.plan, { checkDepth: false });
    const wasm = createWasmEndpointTransform(mix.plan, { force: true });
    if (!wasm) throw new Error(`no WASM transform for ${name}`);
    const a = JSON.stringify(JSON.parse(js.run(parts).toString()));
    const b = JSON.stringify(JSON.parse(wasm.run(parts).toString()));
    if (a !== b) throw new Error(`${name}: the two paths disagree`);
    const jsTimes = [];
    const wasmTimes = [];
    for (let r = 0; r < ROUNDS; r++) {
      jsTimes.push(timeOne(js, parts, ROUND_MS));
      wasmTimes.push(timeOne(wasm, parts, ROUND_MS));
    }
    const jsNs = median(jsTimes);
    const wasmNs = median(wasmTimes);
    const bytes = bodies.reduce((s, b) => s + b.length, 0);
    const c = {
      name,
      bytes,
      js_ns: Math.round(jsNs),
      wasm_ns: Math.round(wasmNs),
      speedup: Math.round((jsNs / wasmNs) * 100) / 100,
    };
    cases.push(c);
    if (!asJson)
      console.log(
        `${name.padEnd(26)} ${String(bytes).padStart(7)} B  js ${fmt(jsNs)}  wasm ${fmt(wasmNs)}  ×${c.speedup}`,
      );
  }
}

if (withShapes) {
  for (const shape of SHAPES) {
    if (ONLY && !shape.name.includes(ONLY)) continue;
    const parts = shape.bodies.map((b, index) => ({ index, body: toBody(b) }));
    const js = jsEndpointTransform(shape.plan, { checkDepth: false });
    const wasm = createWasmEndpointTransform(shape.plan, { force: true });
    const jsTimes = [];
    const wasmTimes = [];
    for (let r = 0; r < ROUNDS; r++) {
      jsTimes.push(timeOne(js, parts, ROUND_MS));
      wasmTimes.push(timeOne(wasm, parts, ROUND_MS));
    }
    const jsNs = median(jsTimes);
    const wasmNs = median(wasmTimes);
    const bytes = parts.reduce((n, p) => n + p.body.length, 0);
    const c = {
      name: shape.name,
      bytes,
      js_ns: Math.round(jsNs),
      wasm_ns: Math.round(wasmNs),
      speedup: Math.round((jsNs / wasmNs) * 100) / 100,
    };
    cases.push(c);
    if (!asJson)
      console.log(
        `${shape.name.padEnd(46)} ${String(bytes).padStart(7)} B  js ${fmt(jsNs)}  wasm ${fmt(wasmNs)}  ×${c.speedup}`,
      );
  }
}

function fmt(ns) {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms`.padStart(10) : `${(ns / 1e3).toFixed(2)} µs`.padStart(10);
}

if (asJson) {
  console.log('| case | bytes | JS (JSON.parse → transform → JSON.stringify) | WASM | speedup |');
  console.log('|---|---:|---:|---:|---:|');
  for (const c of cases)
    console.log(
      `| ${c.name} | ${c.bytes} | ${fmt(c.js_ns).trim()} | ${fmt(c.wasm_ns).trim()} | ${c.speedup}× |`,
    );
  console.log(JSON.stringify({ cases }));
}
