// backend/graphql: the docs' four request-generation examples (POST/GET × mutation/query),
// through the real gateway against a GraphQL-shaped backend that records what it got.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileGraphql, validateGraphql } from '../dist/backends/graphql.js';
import { get, ROOT, startBackend, startGateway } from './helpers/gateway.mjs';

const FIX = join(ROOT, 'test', 'fixtures', 'graphql');
const REVIEW = join(FIX, 'review.graphql');
const HERO = join(FIX, 'hero.graphql');

describe('backend/graphql end to end', () => {
  let server;
  let gw;

  before(async () => {
    server = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { ok: true } }));
    });
    const host = [server.url];
    const gql = (endpoint, method, cfg, extra = {}) => ({
      endpoint,
      method,
      backend: [
        {
          host,
          timeout: '4100ms',
          url_pattern: '/graphql?timeout=4s',
          ...extra,
          extra_config: { 'backend/graphql': cfg },
        },
      ],
    });
    gw = await startGateway({
      version: 3,
      endpoints: [
        gql('/review/{id_show}', 'POST', {
          type: 'mutation',
          query_path: REVIEW,
          variables: { review: { stars: 3, commentary: 'meh' }, ep: 'JEDI', id_show: '{id_show}' },
          operationName: 'CreateReviewForEpisode',
        }),
        gql(
          '/review-get/{stars}',
          'GET',
          {
            type: 'mutation',
            query_path: REVIEW,
            variables: { review: { stars: '{stars}' }, ep: 'JEDI', id_show: '1500' },
            operationName: 'CreateReviewForEpisode',
          },
          { method: 'GET' },
        ),
        gql('/hero/{episode}', 'POST', {
          type: 'query',
          query_path: HERO,
          variables: { episode: '{episode}', withFriends: false },
          operationName: 'Hero',
        }),
        gql(
          '/hero-get/{episode}',
          'GET',
          {
            type: 'query',
            query_path: HERO,
            variables: { episode: '{episode}', withFriends: false },
            operationName: 'Hero',
          },
          { method: 'GET' },
        ),
        gql('/inline', 'GET', { type: 'query', query: '{ q(func: uid(1)) { uid } }' }),
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await server?.close();
  });

  test('POST + mutation: the client body over the config variables, no {param} filling', async () => {
    const r = await get(`${gw.url}/review/1500`, {
      method: 'POST',
      body: JSON.stringify({ review: { stars: 5, commentary: 'This is a great movie!' } }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { data: { ok: true } });
    const got = server.requests.at(-1);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/graphql?timeout=4s');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(got.body.toString()), {
      query: readFileSync(REVIEW, 'utf8'),
      variables: {
        ep: 'JEDI',
        review: { stars: 5, commentary: 'This is a great movie!' },
        id_show: '{id_show}',
      },
      operationName: 'CreateReviewForEpisode',
    });
  });

  test('GET + mutation: a URL-encoded query with the body variables', async () => {
    const r = await get(`${gw.url}/review-get/5`);
    assert.equal(r.status, 200);
    const got = server.requests.at(-1);
    assert.equal(got.method, 'GET');
    const u = new URL(got.url, 'http://x');
    assert.equal(u.searchParams.get('timeout'), '4s');
    assert.equal(u.searchParams.get('query'), readFileSync(REVIEW, 'utf8'));
    assert.equal(u.searchParams.get('operationName'), 'CreateReviewForEpisode');
    assert.deepEqual(JSON.parse(u.searchParams.get('variables')), {
      review: { stars: '{stars}' },
      ep: 'JEDI',
      id_show: '1500',
    });
    assert.equal(got.body.length, 0);
  });

  test('POST + query: the body is ignored, {episode} is filled from the URL', async () => {
    const r = await get(`${gw.url}/hero/JEDI`, { method: 'POST', body: '{"episode":"EMPIRE"}' });
    assert.equal(r.status, 200);
    const got = server.requests.at(-1);
    assert.deepEqual(JSON.parse(got.body.toString()), {
      query: readFileSync(HERO, 'utf8'),
      variables: { episode: 'JEDI', withFriends: false },
      operationName: 'Hero',
    });
  });

  test('GET + query', async () => {
    const r = await get(`${gw.url}/hero-get/JEDI`);
    assert.equal(r.status, 200);
    const u = new URL(server.requests.at(-1).url, 'http://x');
    assert.equal(server.requests.at(-1).method, 'GET');
    assert.deepEqual(JSON.parse(u.searchParams.get('variables')), { episode: 'JEDI', withFriends: false });
    assert.equal(u.searchParams.get('operationName'), 'Hero');
  });

  test('inline query, POST by default, no variables', async () => {
    await get(`${gw.url}/inline`);
    const got = server.requests.at(-1);
    assert.equal(got.method, 'POST');
    assert.deepEqual(JSON.parse(got.body.toString()), { query: '{ q(func: uid(1)) { uid } }' });
  });
});

describe('backend/graphql config', () => {
  test('compile picks the method and fills nested {params} for queries', () => {
    const c = compileGraphql(
      { type: 'query', query: 'q', variables: { a: { b: '{id}' }, c: '{Missing}' } },
      '$',
      'GET',
    );
    assert.equal(c.method, 'GET');
    const out = c.rewrite({
      method: 'GET',
      path: '/g',
      headers: {},
      body: null,
      params: { id: '7' },
      origin: {},
      deadline: 0,
    });
    assert.equal(
      out.path,
      `/g?query=q&variables=${encodeURIComponent(JSON.stringify({ a: { b: '7' }, c: '{Missing}' }))}`,
    );
  });

  test('validation errors with paths', () => {
    assert.equal(validateGraphql({ query: 'x' }, '$.g')[0].path, '$.g.type');
    assert.match(validateGraphql({ type: 'query' }, '$.g')[0].message, /query_path/);
    assert.equal(
      validateGraphql({ type: 'query', query_path: '/nope.graphql' }, '$.g')[0].path,
      '$.g.query_path',
    );
    assert.equal(validateGraphql({ type: 'query', query: 'q', method: 'PUT' }, '$.g')[0].path, '$.g.method');
    assert.deepEqual(validateGraphql({ type: 'mutation', query: 'q' }, '$.g'), []);
  });
});
