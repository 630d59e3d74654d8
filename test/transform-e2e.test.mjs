// Response manipulation through the real gateway (`gw run --transform js`, the TS reference):
// the docs' examples with real backends on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

const user = {
  id: 1,
  name: 'Leanne Graham',
  email: 'Sincere@april.biz',
  address: { city: 'Gwenborough', zip: '1' },
};
const post = { userId: 1, id: 1, title: 'sunt aut', body: 'quia et' };

describe('response manipulation end to end (--transform js)', () => {
  let backend;
  let rawBackend;
  let gw;

  before(async () => {
    backend = await jsonBackend({
      '/users/1': user,
      '/posts/1': post,
      '/wrapped': { apiVersion: '2.0', data: { totalItems: 800, items: [{ id: 1, secret: 's' }] } },
      '/list': [
        { id: 1, user_id: 7 },
        { id: 2, user_id: 8 },
      ],
      '/shipping': { shipping_id: 'f15f', zone: { state: 'NY', zip: '10001' } },
      '/education': {
        kindergarten: [{ name: 'TEST Kinder' }, { name: "Lil' Elephants" }, { name: 'Bright Rainbows' }],
        schools: [{ title: 'Brookside Elementary' }, { title: 'Oak Tree School' }],
      },
    });
    // answers raw text so that a literal "__proto__" key reaches the gateway
    rawBackend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"__proto__": {"polluted": true}, "ok": 1}');
    });
    const host = [backend.url];
    gw = await startGateway(
      {
        version: 3,
        host,
        timeout: '3s',
        endpoints: [
          {
            endpoint: '/merge',
            backend: [{ url_pattern: '/users/1' }, { url_pattern: '/posts/1', group: 'last_post' }],
          },
          {
            endpoint: '/filtered',
            backend: [
              { url_pattern: '/users/1', allow: ['id', 'address.city'], mapping: { address: 'where' } },
              { url_pattern: '/posts/1', deny: ['body', 'userId'], group: 'post' },
            ],
          },
          {
            endpoint: '/target',
            backend: [{ url_pattern: '/wrapped', target: 'data', deny: ['items'] }],
          },
          {
            endpoint: '/collection',
            backend: [
              {
                url_pattern: '/list',
                is_collection: true,
                mapping: { collection: 'items' },
              },
            ],
          },
          {
            endpoint: '/backend-flatmap',
            backend: [
              {
                url_pattern: '/list',
                is_collection: true,
                allow: ['ignored-when-flatmap'],
                extra_config: {
                  proxy: { flatmap_filter: [{ type: 'del', args: ['collection.*.user_id'] }] },
                },
              },
            ],
          },
          {
            endpoint: '/shipping',
            backend: [
              {
                url_pattern: '/shipping',
                extra_config: {
                  proxy: {
                    flatmap_filter: [
                      { type: 'move', args: ['zone.state', 'shipping_state'] },
                      { type: 'move', args: ['zone.zip', 'shipping_zip'] },
                      { type: 'del', args: ['zone'] },
                    ],
                  },
                },
              },
            ],
          },
          {
            endpoint: '/education-clean',
            backend: [
              {
                url_pattern: '/education',
                extra_config: {
                  proxy: {
                    flatmap_filter: [
                      { type: 'del', args: ['kindergarten.0'] },
                      { type: 'move', args: ['schools.*.title', 'schools.*.name'] },
                      { type: 'append', args: ['kindergarten', 'schools'] },
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
                  { type: 'move', args: ['user.name', 'author'] },
                  { type: 'del', args: ['user'] },
                ],
              },
            },
            backend: [
              { url_pattern: '/users/1', group: 'user' },
              { url_pattern: '/posts/1', allow: ['title'] },
            ],
          },
          {
            endpoint: '/proto',
            backend: [{ url_pattern: '/', host: [rawBackend.url], mapping: { ok: 'fine' } }],
          },
        ],
      },
      { args: ['--workers', '1', '--transform', 'js'] },
    );
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
    await rawBackend?.close();
  });

  test('merge with group (docs grouping example)', async () => {
    const r = await get(`${gw.url}/merge`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ...user, last_post: post });
  });

  test('allow + mapping on one backend, deny + group on the other', async () => {
    const r = await get(`${gw.url}/filtered`);
    assert.deepEqual(r.json, { id: 1, where: { city: 'Gwenborough' }, post: { id: 1, title: 'sunt aut' } });
  });

  test('target then deny', async () => {
    assert.deepEqual((await get(`${gw.url}/target`)).json, { totalItems: 800 });
  });

  test('is_collection renamed by mapping', async () => {
    assert.deepEqual((await get(`${gw.url}/collection`)).json, {
      items: [
        { id: 1, user_id: 7 },
        { id: 2, user_id: 8 },
      ],
    });
  });

  test('backend flatmap with a wildcard (allow ignored)', async () => {
    assert.deepEqual((await get(`${gw.url}/backend-flatmap`)).json, { collection: [{ id: 1 }, { id: 2 }] });
  });

  test('docs: extract objects to another level', async () => {
    assert.deepEqual((await get(`${gw.url}/shipping`)).json, {
      shipping_id: 'f15f',
      shipping_state: 'NY',
      shipping_zip: '10001',
    });
  });

  test('docs: moving around data in arrays', async () => {
    // The destination's items first: krakend/flatmap tree/tree.go, Tree.Append.
    assert.deepEqual((await get(`${gw.url}/education-clean`)).json, {
      schools: [
        { name: 'Brookside Elementary' },
        { name: 'Oak Tree School' },
        { name: "Lil' Elephants" },
        { name: 'Bright Rainbows' },
      ],
    });
  });

  test('endpoint flatmap after the merge of two backends', async () => {
    assert.deepEqual((await get(`${gw.url}/endpoint-flatmap`)).json, {
      title: 'sunt aut',
      author: 'Leanne Graham',
    });
  });

  test('a __proto__ key from a backend is passed as data', async () => {
    const r = await get(`${gw.url}/proto`);
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"__proto__":{"polluted":true},"fine":1}');
  });
});
