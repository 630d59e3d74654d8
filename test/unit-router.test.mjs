import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanPath, Router, splitPath } from '../dist/server/router.js';

function router(routes) {
  const r = new Router();
  for (const [method, pattern] of routes) r.add(method, pattern, `${method} ${pattern}`);
  return r;
}

test('exact routes, params, and the most specific route winning', () => {
  const r = router([
    ['GET', '/api/items/search'],
    ['GET', '/api/items/{id}'],
    ['GET', '/api/items/{id}/reviews'],
    ['GET', '/api/{kind}/special'],
    ['GET', '/api/items/special'],
  ]);
  assert.deepEqual(r.lookup('GET', '/api/items/search'), {
    kind: 'found',
    value: 'GET /api/items/search',
    params: {},
  });
  assert.deepEqual(r.lookup('GET', '/api/items/42'), {
    kind: 'found',
    value: 'GET /api/items/{id}',
    params: { id: '42' },
  });
  assert.deepEqual(r.lookup('GET', '/api/items/42/reviews').params, { id: '42' });
  assert.equal(r.lookup('GET', '/api/items/special').value, 'GET /api/items/special');
  assert.deepEqual(r.lookup('GET', '/api/users/special'), {
    kind: 'found',
    value: 'GET /api/{kind}/special',
    params: { kind: 'users' },
  });
});

test('backtracking: a literal branch that dead-ends falls back to the param branch', () => {
  const r = router([
    ['GET', '/a/b/c'],
    ['GET', '/a/{x}/d'],
  ]);
  assert.deepEqual(r.lookup('GET', '/a/b/d'), { kind: 'found', value: 'GET /a/{x}/d', params: { x: 'b' } });
});

test('different param names on different routes at the same level', () => {
  const r = router([
    ['GET', '/user/{userid}'],
    ['GET', '/user/{iduser}/some'],
  ]);
  assert.deepEqual(r.lookup('GET', '/user/7').params, { userid: '7' });
  assert.deepEqual(r.lookup('GET', '/user/7/some').params, { iduser: '7' });
});

test('405 lists the allowed methods; 404 otherwise; empty segments do not match params', () => {
  const r = router([
    ['GET', '/x/{id}'],
    ['POST', '/x/{id}'],
  ]);
  assert.deepEqual(r.lookup('DELETE', '/x/1'), { kind: 'method-not-allowed', allow: ['GET', 'POST'] });
  assert.deepEqual(r.lookup('GET', '/x/'), { kind: 'not-found' });
  assert.deepEqual(r.lookup('GET', '/y'), { kind: 'not-found' });
});

test('a trailing slash is a different route', () => {
  const r = router([['GET', '/x']]);
  assert.equal(r.lookup('GET', '/x/').kind, 'not-found');
});

test('mixed segments (disable_rest) and percent-decoded params', () => {
  const r = router([['GET', '/f/{name}.{ext}']]);
  assert.deepEqual(r.lookup('GET', '/f/re%20port.tar.gz').params, { name: 're port', ext: 'tar.gz' });
});

test('fixedPath finds a route case-insensitively; cleanPath resolves dots and slashes', () => {
  const r = router([['GET', '/Things/list']]);
  assert.equal(r.fixedPath('/things/LIST'), '/Things/list');
  assert.equal(r.fixedPath('/Things/list'), undefined);
  assert.equal(cleanPath('//a/./b/../c/'), '/a/c/');
  assert.equal(cleanPath('/../..'), '/');
  assert.deepEqual(splitPath('/'), []);
});
