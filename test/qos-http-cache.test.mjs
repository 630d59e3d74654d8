// qos/http-cache end to end: what is stored, for how long, what is never stored, Vary, LRU bounds,
// shared buckets, stale-if-error and client directives. One worker: the cache is per thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, runGw, startBackend, startGateway, writeConfig } from './helpers/gateway.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Backend: each path answers with the headers in `routes[path]` (status via `status`), counting hits. */
async function headerBackend(routes) {
  const hits = {};
  const state = { failing: false };
  const backend = await startBackend((req, res) => {
    const path = req.url.split('?')[0];
    hits[req.url] = (hits[req.url] ?? 0) + 1;
    const route = routes[path] ?? {};
    if (state.failing) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":true}');
      return;
    }
    const { status = 200, ...headers } = typeof route === 'function' ? route(req) : route;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(
      JSON.stringify({ path: req.url, n: hits[req.url], lang: req.headers['accept-language'] ?? null }),
    );
  });
  return { backend, hits, state };
}

const endpoint = (path, backendUrl, urlPattern, cache = {}, extra = {}) => ({
  endpoint: path,
  ...extra,
  backend: [{ host: [backendUrl], url_pattern: urlPattern, extra_config: { 'qos/http-cache': cache } }],
});

test('stores per Cache-Control max-age / s-maxage / Expires, for that long; never private, no-store, errors', async () => {
  const { backend, hits } = await headerBackend({
    '/max-age': { 'cache-control': 'public, max-age=3' },
    '/s-maxage': { 'cache-control': 'max-age=0, s-maxage=60' },
    '/expires': () => ({
      date: new Date().toUTCString(),
      expires: new Date(Date.now() + 60_000).toUTCString(),
    }),
    '/private': { 'cache-control': 'private, max-age=60' },
    '/no-store': { 'cache-control': 'no-store, max-age=60' },
    '/no-cache': { 'cache-control': 'no-cache' },
    '/none': {},
    '/error': { status: 500, 'cache-control': 'max-age=60' },
    '/cookie': { 'cache-control': 'max-age=60', 'set-cookie': 'session=1' },
  });
  const paths = [
    '/max-age',
    '/s-maxage',
    '/expires',
    '/private',
    '/no-store',
    '/no-cache',
    '/none',
    '/error',
    '/cookie',
  ];
  const gw = await startGateway({
    version: 3,
    endpoints: [
      ...paths.map((p) => endpoint(p, backend.url, p)),
      // no-op passes statuses through: an error must not be cached there either.
      endpoint('/noop-error', backend.url, '/error', {}, { output_encoding: 'no-op' }),
    ],
  });
  try {
    const started = Date.now();
    for (let i = 0; i < 3; i++) await get(`${gw.url}/max-age`);
    const cached = await get(`${gw.url}/max-age`);
    assert.deepEqual(cached.json, { path: '/max-age', n: 1, lang: null });
    for (const p of [...paths.slice(1), '/noop-error'])
      for (let i = 0; i < 3; i++) await get(`${gw.url}${p}`);
    assert.equal(hits['/s-maxage'], 1, 's-maxage wins over max-age in a shared cache');
    assert.equal(hits['/expires'], 1);
    for (const p of ['/private', '/no-store', '/no-cache', '/none', '/cookie'])
      assert.equal(hits[p], 3, `${p} never stored`);
    assert.equal(hits['/error'], 6, 'errors never stored (json and no-op)');
    // The Date header has 1 s resolution: the age may count up to 1 s more than measured here.
    await sleep(Math.max(0, started + 3100 - Date.now()));
    const refreshed = await get(`${gw.url}/max-age`);
    assert.equal(refreshed.json.n, 2, 'refetched once max-age has passed');
    assert.equal(hits['/max-age'], 2);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('Vary, LRU bound by max_items, shared vs individual buckets', async () => {
  const { backend, hits } = await headerBackend({
    '/vary': { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
    '/item': { 'cache-control': 'max-age=60' },
  });
  const gw = await startGateway({
    version: 3,
    endpoints: [
      endpoint('/vary', backend.url, '/vary', {}, { input_headers: ['Accept-Language'] }),
      endpoint('/item/{id}', backend.url, '/item?id={id}', { max_items: 2, max_size: 1000000 }),
      endpoint('/s1', backend.url, '/item?id=shared', { shared: true }),
      endpoint('/s2', backend.url, '/item?id=shared', { shared: true }),
      endpoint('/i1', backend.url, '/item?id=individual'),
      endpoint('/i2', backend.url, '/item?id=individual'),
    ],
  });
  try {
    const en1 = await get(`${gw.url}/vary`, { headers: { 'accept-language': 'en' } });
    const fr1 = await get(`${gw.url}/vary`, { headers: { 'accept-language': 'fr' } });
    const fr2 = await get(`${gw.url}/vary`, { headers: { 'accept-language': 'fr' } });
    assert.equal(en1.json.lang, 'en');
    assert.equal(fr1.json.lang, 'fr');
    assert.equal(fr2.json.n, fr1.json.n, 'same Vary value: cached');
    assert.equal(hits['/vary'], 2);

    for (const id of ['1', '2', '1', '3', '1', '2']) await get(`${gw.url}/item/${id}`);
    // LRU of 2: 1,2 stored; 1 hit; 3 evicts 2; 1 hit; 2 fetched again.
    assert.deepEqual([hits['/item?id=1'], hits['/item?id=2'], hits['/item?id=3']], [1, 2, 1]);

    for (const p of ['/s1', '/s2', '/i1', '/i2']) await get(`${gw.url}${p}`);
    assert.equal(hits['/item?id=shared'], 1, 'shared bucket: the second backend reuses the first one');
    assert.equal(hits['/item?id=individual'], 2, 'individual buckets');
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('stale-if-error serves a stale copy when the backend fails; client directives when forwarded', async () => {
  const { backend, hits, state } = await headerBackend({
    '/sie': { 'cache-control': 'max-age=1, stale-if-error=60' },
    '/plain': { 'cache-control': 'max-age=1' },
    '/cc': { 'cache-control': 'max-age=60' },
  });
  const gw = await startGateway({
    version: 3,
    endpoints: [
      endpoint('/sie', backend.url, '/sie'),
      endpoint('/plain', backend.url, '/plain'),
      endpoint('/cc', backend.url, '/cc', {}, { input_headers: ['Cache-Control'] }),
      endpoint('/cc-ignored', backend.url, '/cc'),
    ],
  });
  try {
    await get(`${gw.url}/sie`);
    await get(`${gw.url}/plain`);
    await sleep(1100);
    state.failing = true;
    const stale = await get(`${gw.url}/sie`);
    assert.equal(stale.status, 200);
    assert.equal(stale.json.n, 1);
    const failed = await get(`${gw.url}/plain`);
    assert.equal(failed.status, 500, 'no stale-if-error: the error goes through');
    state.failing = false;

    await get(`${gw.url}/cc`);
    await get(`${gw.url}/cc`);
    assert.equal(hits['/cc'], 1);
    const bypass = await get(`${gw.url}/cc`, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(bypass.json.n, 2, 'client no-cache (forwarded) goes to the backend');
    const warm = await get(`${gw.url}/cc-ignored`); // its own (individual) bucket
    const ignored = await get(`${gw.url}/cc-ignored`, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(ignored.json.n, warm.json.n, 'not forwarded: the client cannot bypass the cache');
    assert.equal(hits['/cc'], 3);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('gw check: http-cache values', async () => {
  const file = writeConfig({
    version: 3,
    endpoints: [
      {
        endpoint: '/x',
        backend: [
          {
            host: ['http://127.0.0.1:9'],
            url_pattern: '/',
            extra_config: { 'qos/http-cache': { max_items: 10 } },
          },
          {
            host: ['http://127.0.0.1:9'],
            url_pattern: '/',
            extra_config: { 'qos/http-cache': { shared: 'yes', max_items: 0, max_size: -1 } },
          },
        ],
      },
    ],
  });
  const { code, stdout, stderr } = await runGw(['check', '-c', file]);
  const out = stdout + stderr;
  assert.equal(code, 1);
  const p0 = '$.endpoints[0].backend[0].extra_config["qos/http-cache"]';
  const p1 = '$.endpoints[0].backend[1].extra_config["qos/http-cache"]';
  for (const path of [`${p0}.max_size`, `${p1}.shared`, `${p1}.max_items`, `${p1}.max_size`])
    assert.ok(out.includes(path), `missing ${path} in:\n${out}`);
});
