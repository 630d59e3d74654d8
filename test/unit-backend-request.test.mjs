import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHeader, compileRequestBuilder, goString } from '../dist/proxy/backend-request.js';

const req = (over = {}) => ({
  method: 'GET',
  path: '/x',
  query: '',
  headers: { host: 'gw:8080' },
  params: {},
  body: null,
  clientIp: '10.1.2.3',
  ...over,
});

test('canonical MIME header names, as Go does', () => {
  assert.equal(canonicalHeader('accept-encoding'), 'Accept-Encoding');
  assert.equal(canonicalHeader('ACCept-enCODING'), 'Accept-Encoding');
  assert.equal(canonicalHeader('x-forwarded-for'), 'X-Forwarded-For');
  assert.equal(canonicalHeader('bad header'), 'bad header');
});

test('goString prints values as KrakenD fills {resp0_x}', () => {
  assert.equal(goString(null), '<nil>');
  assert.equal(goString(1034), '1034');
  assert.equal(goString(1.5), '1.5');
  assert.equal(goString(true), 'true');
  assert.equal(goString('s'), 's');
});

test('url_pattern params, escaping, and the mandatory-vs-optional query rule', () => {
  const b = compileRequestBuilder(
    { endpoint: '/v3/{channel}/foo', input_query_strings: ['page', 'limit'] },
    { url_pattern: '/foo/{channel}?channel={channel}' },
    { method: 'GET', versionHeader: 'KrakenD Version x' },
  );
  assert.equal(b.path(req({ params: { channel: 'iOS' }, query: 'limit=10&evil=1' })), '/foo/iOS?limit=10');
  assert.equal(b.path(req({ params: { channel: 'iOS' }, query: 'evil=1' })), '/foo/iOS?channel=iOS');
  assert.equal(b.path(req({ params: { channel: 'a b/c' } })), '/foo/a%20b%2Fc?channel=a%20b%2Fc');
});

test('backend input_query_strings is a second filter', () => {
  const b = compileRequestBuilder(
    { endpoint: '/x', input_query_strings: ['a', 'b'] },
    { url_pattern: '/y', input_query_strings: ['b'] },
    { method: 'GET', versionHeader: 'v' },
  );
  assert.equal(b.path(req({ query: 'a=1&b=2&c=3' })), '/y?b=2');
});

test('sequential, JWT and input_headers variables', () => {
  const b = compileRequestBuilder(
    { endpoint: '/x' },
    { url_pattern: '/u/{resp0_user.hash}/{JWT.sub}/{input_headers.X-Tenant}/{resp1_missing}' },
    { method: 'GET', versionHeader: 'v' },
  );
  assert.ok(b.usesSequential);
  const path = b.path(req({ claims: { sub: 'me' }, headers: { 'x-tenant': 't1' } }), [
    { user: { hash: 'abc' } },
  ]);
  // A missing value stays as Lura's template key, its braces escaped in a path as Go's URL does
  // (luraproject/lura proxy/request.go, GeneratePath).
  assert.equal(path, '/u/abc/me/t1/%7B%7B.Resp1_missing%7D%7D');
});

test('headers: allow-list in canonical form, Content-Type always, X-Forwarded-* always', () => {
  const b = compileRequestBuilder(
    { endpoint: '/x', input_headers: ['x-custom', 'Accept'] },
    { url_pattern: '/y' },
    { method: 'GET', versionHeader: 'KrakenD Version x' },
  );
  const h = b.headers(
    req({
      headers: { host: 'gw:8080', 'x-custom': '1', accept: 'a/b', 'content-type': 'c/d', cookie: 'no' },
    }),
  );
  assert.deepEqual(h, {
    'X-Custom': '1',
    Accept: 'a/b',
    'Content-Type': 'c/d',
    'User-Agent': 'KrakenD Version x',
    'Accept-Encoding': 'gzip',
    'X-Forwarded-For': '10.1.2.3',
    'X-Forwarded-Host': 'gw:8080',
  });
});

test('headers: "*" forwards all but hop-by-hop; a backend list narrows it', () => {
  const b = compileRequestBuilder(
    { endpoint: '/x', input_headers: ['*'] },
    { url_pattern: '/y', input_headers: ['X-A'] },
    { method: 'GET', versionHeader: 'v' },
  );
  const h = b.headers(req({ headers: { host: 'h', 'x-a': '1', 'x-b': '2', connection: 'keep-alive' } }));
  assert.equal(h['X-A'], '1');
  assert.equal(h['X-B'], undefined);
  assert.equal(h.Connection, undefined);
});
