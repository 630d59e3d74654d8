// The WASM transform path through the real gateway: `gw run` (WASM by default) and
// `gw run --transform js` serve the same config from the same backends; every endpoint must answer
// the same status, completeness header and JSON. The byte-exact number in /numbers proves the
// default gateway really took the WASM path (JSON.stringify would print 1.5).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, startBackend, startGateway } from './helpers/gateway.mjs';

const RAW = {
  '/users/1': JSON.stringify({
    id: 1,
    name: 'Leanne Graham',
    email: 'Sincere@april.biz',
    password: 'x',
    address: { city: 'Gwenborough', geo: { lat: '-37.3159' } },
  }),
  '/posts/1': JSON.stringify({ userId: 1, id: 1, title: 'sunt aut', body: 'quia et' }),
  '/posts': JSON.stringify([
    { userId: 1, id: 1, title: 'a', body: 'x' },
    { userId: 2, id: 2, title: 'b', body: 'y' },
  ]),
  '/numbers': '{ "price": 1.50, "big": 12345678901234567890, "e": 1E+2, "drop": true }',
  '/pretty': '{\n  "a": [ 1, 2 ],\n  "b": { "c": "d  e" },\n  "secret": 1\n}\n',
  '/broken': '{"a": 1,',
  '/escaped': '{"caf\\u00e9": "\\ud83d\\ude00", "dup": 1, "dup": 2}',
};

const endpoints = [
  {
    endpoint: '/merge',
    backend: [
      {
        url_pattern: '/users/1',
        allow: ['id', 'name', 'email', 'address.city'],
        mapping: { email: 'personal_email' },
      },
      { url_pattern: '/posts/1', allow: ['id', 'title'], group: 'last_post' },
    ],
  },
  {
    endpoint: '/collection',
    backend: [
      {
        url_pattern: '/posts',
        is_collection: true,
        extra_config: {
          proxy: {
            flatmap_filter: [
              { type: 'move', args: ['collection.*.title', 'collection.*.headline'] },
              { type: 'del', args: ['collection.*.body'] },
            ],
          },
        },
      },
    ],
  },
  {
    endpoint: '/endpoint-flatmap',
    extra_config: {
      proxy: {
        flatmap_filter: [
          { type: 'move', args: ['user.name', 'name'] },
          { type: 'del', args: ['user'] },
        ],
      },
    },
    backend: [
      { url_pattern: '/users/1', group: 'user' },
      { url_pattern: '/posts/1', target: '', deny: ['body'] },
    ],
  },
  { endpoint: '/numbers', backend: [{ url_pattern: '/numbers', deny: ['drop'] }] },
  { endpoint: '/pretty', backend: [{ url_pattern: '/pretty', deny: ['secret'] }] },
  { endpoint: '/escaped', backend: [{ url_pattern: '/escaped', allow: ['café', 'dup'] }] },
  {
    endpoint: '/partial',
    backend: [{ url_pattern: '/posts/1', group: 'ok' }, { url_pattern: '/broken' }],
  },
];

describe('WASM transform through gw run, against --transform js', () => {
  let backend;
  let wasmGw;
  let jsGw;

  before(async () => {
    backend = await startBackend((req, res) => {
      const body = RAW[req.url.split('?')[0]];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(body ?? '{}');
    });
    const config = { version: 3, host: [backend.url], timeout: '3s', endpoints };
    wasmGw = await startGateway(config);
    jsGw = await startGateway(config, { args: ['--workers', '1', '--transform', 'js'] });
  });

  after(async () => {
    await wasmGw?.stop();
    await jsGw?.stop();
    await backend?.close();
  });

  for (const { endpoint } of endpoints) {
    test(`${endpoint}: same status, completeness and JSON on both paths`, async () => {
      const w = await get(`${wasmGw.url}${endpoint}`);
      const j = await get(`${jsGw.url}${endpoint}`);
      assert.equal(w.status, j.status);
      assert.equal(w.headers.get('x-krakend-completed'), j.headers.get('x-krakend-completed'));
      assert.ok(w.json !== undefined, `WASM gateway answered JSON: ${w.text}`);
      assert.equal(JSON.stringify(w.json), JSON.stringify(j.json));
    });
  }

  test('the default path is the byte path: numbers stay as the backend wrote them', async () => {
    const w = await get(`${wasmGw.url}/numbers`);
    assert.equal(w.text, '{"price":1.50,"big":12345678901234567890,"e":1E+2}');
    // The JS path decodes; it keeps the literals too where the runtime has JSON.rawJSON (Node ≥ 21),
    // as Lura's decoders do (UseNumber), and prints JavaScript's numbers on Node 20.
    const j = await get(`${jsGw.url}/numbers`);
    const keeps = typeof JSON.rawJSON === 'function';
    assert.equal(
      j.text,
      keeps
        ? '{"price":1.50,"big":12345678901234567890,"e":1E+2}'
        : '{"price":1.5,"big":12345678901234567000,"e":100}',
    );
  });

  test('merge output as the docs describe it', async () => {
    const w = await get(`${wasmGw.url}/merge`);
    assert.deepEqual(w.json, {
      id: 1,
      name: 'Leanne Graham',
      personal_email: 'Sincere@april.biz',
      address: { city: 'Gwenborough' },
      last_post: { id: 1, title: 'sunt aut' },
    });
    assert.equal(w.headers.get('x-krakend-completed'), 'true');
  });

  test('a backend answering invalid JSON makes the response incomplete, the rest still merged', async () => {
    const w = await get(`${wasmGw.url}/partial`);
    assert.equal(w.status, 200);
    assert.equal(w.headers.get('x-krakend-completed'), 'false');
    assert.deepEqual(w.json, { ok: { userId: 1, id: 1, title: 'sunt aut', body: 'quia et' } });
  });
});
