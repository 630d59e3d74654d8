// The router's own answers, checked against what KrakenD CE's router writes: Lura's gin router
// (luraproject/lura router/gin/engine.go, router.go, endpoint.go), krakend-ce's NoRoute/NoMethod
// handlers (krakend-ce router_engine.go) and gin itself (gin-gonic/gin gin.go). Cases rewritten
// from Lura's router/gin tests where they exist (router_test.go, engine_test.go), the others from
// the source named in each test. Run on both fronts; the summary prints how many cases pass.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GW_VERSION } from '../dist/proxy/backend-request.js';
import { jsonBackend, send, startGateway } from './helpers/gateway.mjs';

const VERSION = `Version ${GW_VERSION}`;
const results = [];

let backend;
before(async () => {
  backend = await jsonBackend({ '/ok': { supu: 'tupu' } });
});
after(async () => {
  await backend?.close();
  const pass = results.filter((r) => r.ok).length;
  console.log(`Lura router cases: ${pass} of ${results.length} pass`);
});

/** A case: counted in the summary. */
function check(name, fn) {
  test(name, async () => {
    let ok = false;
    try {
      await fn();
      ok = true;
    } finally {
      results.push({ name, ok });
    }
  });
}

const ep = (endpoint, method, extra = {}) => ({
  endpoint,
  method,
  backend: [{ host: [backend.url], url_pattern: '/ok' }],
  ...extra,
});

for (const front of ['uws', 'node']) {
  describe(`router answers as KrakenD's (${front} front)`, () => {
    let gw;
    let custom;
    before(async () => {
      gw = await startGateway(
        {
          version: 3,
          extra_config: { router: { auto_options: true } },
          endpoints: [
            // luraproject/lura router/gin/router_test.go, TestDefaultFactory_ok: methods in any case
            ep('/some', 'GET'),
            ep('/some', 'post'),
            ep('/some', 'put'),
            ep('/some', 'PATCH'),
            ep('/some', 'DELETE'),
            ep('/writes', 'POST'),
            ep('/writes', 'DELETE'),
            ep('/user/{id}/public', 'GET'),
            ep('/slash/', 'POST'),
            ep('/items/{id}', 'GET'),
            ep('/items/new', 'POST'),
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
      custom = await startGateway(
        {
          version: 3,
          extra_config: {
            router: {
              hide_version_header: true,
              error_body: { 404: { msg: 'Unknown endpoint' }, 405: { msg: 'Wrong method' } },
            },
          },
          endpoints: [ep('/only-get', 'GET')],
        },
        { args: ['--workers', '1', '--front', front] },
      );
    });
    after(async () => {
      await gw?.stop();
      await custom?.stop();
    });

    // luraproject/lura router/gin/router_test.go, TestDefaultFactory_ok
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      check(
        `${method} /some: 200, JSON, complete, no Cache-Control (router_test.go TestDefaultFactory_ok)`,
        async () => {
          const r = await send(gw.url, method, '/some', { headers: { 'Content-Type': 'application/json' } });
          assert.equal(r.status, 200);
          assert.equal(r.text, '{"supu":"tupu"}');
          assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
          assert.equal(r.headers['x-krakend-completed'], 'true');
          assert.equal(r.headers['x-krakend'], VERSION);
          assert.equal(r.headers['cache-control'], undefined);
        },
      );
    }

    check(
      'auto_options: Allow sorted as Go sorts it, X-Krakend, no body (router.go registerOptionEndpoints)',
      async () => {
        const r = await send(gw.url, 'OPTIONS', '/some');
        assert.equal(r.status, 200);
        assert.equal(r.headers.allow, 'DELETE, GET, PATCH, POST, PUT');
        assert.equal(r.headers['x-krakend'], VERSION);
        assert.equal(r.headers['x-krakend-completed'], undefined);
        assert.equal(r.text, '');
      },
    );

    check(
      'auto_options covers endpoints only: OPTIONS /__health is a 405 (router.go urlCatalog)',
      async () => {
        const r = await send(gw.url, 'OPTIONS', '/__health');
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, 'GET');
      },
    );

    check(
      "404: gin's text as text/plain without charset, X-Krakend-Completed: false (gin.go serveError; krakend-ce router_engine.go defaultHandler)",
      async () => {
        const r = await send(gw.url, 'GET', '/does/not/exist');
        assert.equal(r.status, 404);
        assert.equal(r.text, '404 page not found');
        assert.equal(r.headers['content-type'], 'text/plain');
        assert.equal(r.headers['x-krakend'], VERSION);
        assert.equal(r.headers['x-krakend-completed'], 'false');
      },
    );

    check(
      "405: Allow in the order of gin's method trees, OPTIONS from auto_options last (gin.go handleHTTPRequest)",
      async () => {
        // Trees: GET (/__health, lura's NewEngine), POST, PUT, PATCH, DELETE (endpoints), OPTIONS.
        const r = await send(gw.url, 'PUT', '/writes');
        assert.equal(r.status, 405);
        assert.equal(r.text, '405 method not allowed');
        assert.equal(r.headers.allow, 'POST, DELETE, OPTIONS');
        assert.equal(r.headers['content-type'], 'text/plain');
        assert.equal(r.headers['x-krakend'], VERSION);
        assert.equal(r.headers['x-krakend-completed'], 'false');
      },
    );

    check(
      '405: Allow names every method that routes the path, through any pattern (gin.go handleHTTPRequest)',
      async () => {
        const r = await send(gw.url, 'PUT', '/items/new');
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, 'GET, POST, OPTIONS');
      },
    );

    check(
      'HEAD on a GET endpoint: 405, gin has no HEAD routes (router.go registerKrakendEndpoint)',
      async () => {
        const r = await send(gw.url, 'HEAD', '/some');
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
        assert.equal(r.text, '');
      },
    );

    check(
      'params are checked: an encoded ? is refused with 400 (engine_test.go TestNewEngine_paramsAreChecked)',
      async () => {
        const r = await send(gw.url, 'GET', '/user/123%3f/public');
        assert.equal(r.status, 400);
        assert.equal(r.text, 'error: encoded url params');
        // Written before any endpoint handler runs: no X-Krakend; Go's sniffing names the type.
        assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(r.headers['x-krakend'], undefined);
      },
    );

    check(
      'params are checked: an encoded # is refused with 400 (engine_test.go TestNewEngine_paramsAreChecked)',
      async () => {
        const r = await send(gw.url, 'GET', '/user/123%23/public');
        assert.equal(r.status, 400);
        assert.equal(r.text, 'error: encoded url params');
      },
    );

    check(
      'params are checked: a plain param passes (engine_test.go TestNewEngine_paramsAreChecked)',
      async () => {
        const r = await send(gw.url, 'GET', '/user/123/public');
        assert.equal(r.status, 200);
      },
    );

    check(
      "trailing slash, GET: 301 with Go's HTML body, the query kept (gin.go redirectTrailingSlash; net/http Redirect)",
      async () => {
        const r = await send(gw.url, 'GET', '/some/?a=1&b=<2>');
        assert.equal(r.status, 301);
        assert.equal(r.headers.location, '/some?a=1&b=<2>');
        assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
        assert.equal(r.text, '<a href="/some?a=1&amp;b=&lt;2&gt;">Moved Permanently</a>.\n\n');
      },
    );

    check(
      'trailing slash behind a proxy: X-Forwarded-Prefix, cleaned and stripped to [a-zA-Z0-9/-], leads the Location (gin.go redirectTrailingSlash; net/http Redirect cleans it)',
      async () => {
        const cases = [
          ['/api/v1', '/api/v1/some?q=1'],
          ['/api/v1/', '/api/v1/some?q=1'],
          ['/a/../evil<b>.com', '/evilbcom/some?q=1'],
          ['//x//y', '/x/y/some?q=1'],
          ['/', '/some?q=1'],
          // Relative: Go's Redirect resolves it against the path gin set (api//some), then cleans.
          ['api', 'api/api/some?q=1'],
        ];
        for (const [prefix, location] of cases) {
          const r = await send(gw.url, 'GET', '/some/?q=1', { headers: { 'X-Forwarded-Prefix': prefix } });
          assert.equal(r.status, 301, prefix);
          assert.equal(r.headers.location, location, prefix);
        }
        // The fixed-path redirect takes no prefix (gin.go redirectFixedPath).
        const fixed = await send(gw.url, 'GET', '/SOME', { headers: { 'X-Forwarded-Prefix': '/api' } });
        assert.equal(fixed.headers.location, '/some');
      },
    );

    check(
      'trailing slash, POST: 307, no body, no Content-Type (gin.go redirectRequest; net/http Redirect)',
      async () => {
        const r = await send(gw.url, 'POST', '/slash');
        assert.equal(r.status, 307);
        assert.equal(r.headers.location, '/slash/');
        assert.equal(r.headers['content-type'], undefined);
        assert.equal(r.text, '');
      },
    );

    check(
      'no redirect to a path only other methods have: PUT /slash is 404 (gin.go handleHTTPRequest)',
      async () => {
        const r = await send(gw.url, 'PUT', '/slash');
        assert.equal(r.status, 404);
      },
    );

    check('fixed path: GET /SOME redirects to /some (gin.go redirectFixedPath)', async () => {
      const r = await send(gw.url, 'GET', '/SOME');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, '/some');
    });

    check('fixed path: GET /x/../some redirects to /some (gin.go redirectFixedPath, cleanPath)', async () => {
      const r = await send(gw.url, 'GET', '/x/../some');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, '/some');
    });

    check(
      'error_body 404: the JSON body with X-Krakend headers (krakend-ce router_engine.go jsonHandler)',
      async () => {
        const r = await send(custom.url, 'GET', '/nowhere');
        assert.equal(r.status, 404);
        assert.deepEqual(JSON.parse(r.text), { msg: 'Unknown endpoint' });
        assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(r.headers['x-krakend'], 'Version undefined');
        assert.equal(r.headers['x-krakend-completed'], 'false');
      },
    );

    check(
      'error_body 405: the JSON body, Allow still set (krakend-ce router_engine.go jsonHandler; gin.go)',
      async () => {
        const r = await send(custom.url, 'DELETE', '/only-get');
        assert.equal(r.status, 405);
        assert.deepEqual(JSON.parse(r.text), { msg: 'Wrong method' });
        assert.equal(r.headers.allow, 'GET');
        assert.equal(r.headers['x-krakend-completed'], 'false');
      },
    );

    check('auto_options off: OPTIONS is a 405 (router.go registerEndpointsAndMiddlewares)', async () => {
      const r = await send(custom.url, 'OPTIONS', '/only-get');
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET');
    });
  });
}
