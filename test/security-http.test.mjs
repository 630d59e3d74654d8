// security/http, from the "HTTP Security" page (unrolled/secure semantics) and the bot detector
// from the "Bot Detection" page.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { botDetectorModule, re2ToRegExp } from '../dist/security/bot-detector.js';
import { httpSecurityModule } from '../dist/security/http-security.js';
import { ctxFor, okStage, request } from './fixtures/security/unit.mjs';

const docsExample = {
  allowed_hosts: ['host.known.com:443'],
  ssl_proxy_headers: { 'X-Forwarded-Proto': 'https' },
  host_proxy_headers: ['X-Forwarded-Hosts'],
  ssl_redirect: true,
  ssl_host: 'ssl.host.domain',
  sts_seconds: 300,
  sts_include_subdomains: true,
  frame_deny: true,
  referrer_policy: 'same-origin',
  custom_frame_options_value: 'ALLOW-FROM https://example.com',
  hpkp_public_key: 'pin-sha256="base64=="; max-age=expireTime',
  content_type_nosniff: true,
  browser_xss_filter: true,
  content_security_policy: "default-src 'self';",
  is_development: false,
};

function secure(cfg, service = { version: 3 }) {
  const next = okStage();
  return { stage: httpSecurityModule.service(cfg, ctxFor({ service }))(next), next };
}

describe('security/http', () => {
  test('docs example over HTTPS (proxy header): every header', async () => {
    const { stage } = secure(docsExample);
    const res = await stage(
      request({ headers: { host: 'host.known.com:443', 'x-forwarded-proto': 'https' } }),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=300; includeSubDomains');
    assert.equal(res.headers['x-frame-options'], 'ALLOW-FROM https://example.com');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-xss-protection'], '1; mode=block');
    assert.equal(res.headers['content-security-policy'], "default-src 'self';");
    assert.equal(res.headers['referrer-policy'], 'same-origin');
    assert.equal(res.headers['public-key-pins'], 'pin-sha256="base64=="; max-age=expireTime');
    assert.equal(res.headers['content-type'], 'application/json');
  });

  test('allowed_hosts: unknown Host rejected before the endpoint; host_proxy_headers take precedence', async () => {
    const { stage, next } = secure(docsExample);
    const bad = await stage(request({ headers: { host: 'evil.com', 'x-forwarded-proto': 'https' } }));
    assert.equal(bad.status, 500);
    assert.equal(bad.body, 'Bad Host\n');
    const viaProxy = await stage(
      request({
        headers: {
          host: 'internal:8080',
          'x-forwarded-hosts': 'host.known.com:443',
          'x-forwarded-proto': 'https',
        },
      }),
    );
    assert.equal(viaProxy.status, 200);
    assert.equal(next.seen.length, 1);
  });

  test('ssl_redirect: plain HTTP → 301 to https://ssl_host + path + query', async () => {
    const { stage, next } = secure(docsExample);
    const res = await stage(request({ path: '/a/b', query: 'x=1', headers: { host: 'host.known.com:443' } }));
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://ssl.host.domain/a/b?x=1');
    assert.equal(next.seen.length, 0);
    const noHost = secure({ ssl_redirect: true });
    const r2 = await noHost.stage(
      request({ method: 'POST', path: '/p', headers: { host: 'api.example.com' } }),
    );
    assert.equal(r2.headers.location, 'https://api.example.com/p');
    const temp = secure({ ssl_redirect: true, ssl_temporary_redirect: true });
    assert.equal((await temp.stage(request({ headers: { host: 'h' } }))).status, 307);
  });

  test('HSTS and HPKP only over HTTPS; a TLS listener counts as HTTPS', async () => {
    const cfg = { sts_seconds: 31536000, frame_deny: true, hpkp_public_key: 'pin' };
    const plain = await secure(cfg).stage(request());
    assert.equal(plain.headers['strict-transport-security'], undefined);
    assert.equal(plain.headers['public-key-pins'], undefined);
    assert.equal(plain.headers['x-frame-options'], 'DENY');
    const tlsService = { version: 3, tls: { keys: [{ public_key: 'c.pem', private_key: 'k.pem' }] } };
    const overTls = await secure(cfg, tlsService).stage(request());
    assert.equal(overTls.headers['strict-transport-security'], 'max-age=31536000');
    const forced = await secure({ ...cfg, force_sts_header: true, sts_preload: true }).stage(request());
    assert.equal(forced.headers['strict-transport-security'], 'max-age=31536000; preload');
  });

  test('is_development disables host checks, redirects, HSTS', async () => {
    const res = await secure({ ...docsExample, is_development: true }).stage(
      request({ headers: { host: 'anything' } }),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  test('validate(): wrong types are reported with their path', () => {
    const issues = httpSecurityModule.validate(
      { sts_seconds: '300', frame_deny: 'yes', ssl_proxy_headers: { a: 1 } },
      '$.extra_config["security/http"]',
      { version: 3 },
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      '$.extra_config["security/http"].frame_deny',
      '$.extra_config["security/http"].ssl_proxy_headers["a"]',
      '$.extra_config["security/http"].sts_seconds',
    ]);
  });

  // KrakenD CE's krakend-httpsecure reads the service's extra_config only: at an endpoint the
  // block is ignored, with a warning that names it (security/cors says the same of itself).
  test('validate(): at an endpoint, a warning naming the namespace', () => {
    const path = '$.endpoints[0].extra_config["security/http"]';
    assert.deepEqual(httpSecurityModule.validate({ frame_deny: 'yes' }, path, { version: 3 }), [
      {
        path,
        message: 'security/http is read in the root extra_config only (ignored here, as in KrakenD CE)',
        severity: 'warning',
      },
    ]);
  });
});

describe('security/bot-detector', () => {
  const docsExample = {
    allow: ['MyAndroidClient/1.0', 'Pingdom.com_bot_version_1.1'],
    deny: ['a', 'b'],
    patterns: ['(Pingdom.com_bot_version_).*', '(facebookexternalhit)/.*'],
    cache_size: 10000,
  };
  function bot(cfg, level = 'endpoint') {
    const next = okStage();
    return { stage: botDetectorModule[level](cfg, ctxFor({}))(next), next };
  }
  const ua = (v) => request({ headers: v === undefined ? {} : { 'user-agent': v } });

  test('docs example: allow → deny → patterns, 403 with no body for bots', async () => {
    for (const level of ['endpoint', 'service']) {
      const { stage, next } = bot(docsExample, level);
      assert.equal((await stage(ua('Pingdom.com_bot_version_1.1'))).status, 200, 'allow wins over patterns');
      assert.equal((await stage(ua('MyAndroidClient/1.0'))).status, 200);
      assert.equal((await stage(ua('a'))).status, 403);
      const r = await stage(ua('Pingdom.com_bot_version_1.2'));
      assert.equal(r.status, 403);
      assert.equal(r.body, null);
      assert.equal(
        (await stage(ua('facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)'))).status,
        403,
      );
      assert.equal((await stage(ua('Mozilla/5.0'))).status, 200);
      assert.equal((await stage(ua('ab'))).status, 200, 'deny is literal');
      assert.equal((await stage(ua(undefined))).status, 200);
      assert.equal(next.seen.length, 5);
    }
  });

  test('cached verdicts stay right; empty_user_agent_is_bot', async () => {
    const { stage } = bot({ ...docsExample, cache_size: 2, empty_user_agent_is_bot: true });
    for (let i = 0; i < 3; i++) {
      assert.equal((await stage(ua('facebookexternalhit/1.0'))).status, 403);
      assert.equal((await stage(ua('curl/8'))).status, 200);
      assert.equal((await stage(ua(`x${i}`))).status, 200);
    }
    assert.equal((await stage(ua(''))).status, 403);
    assert.equal((await stage(ua(undefined))).status, 403);
  });

  test('RE2 inline flags are translated; invalid patterns are reported by validate()', () => {
    assert.ok(re2ToRegExp('(?i)googlebot').test('GoogleBot/2.1'));
    const issues = botDetectorModule.validate(
      { patterns: ['ok', '(unclosed'] },
      '$.extra_config["security/bot-detector"]',
      { version: 3 },
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0].path, '$.extra_config["security/bot-detector"].patterns[1]');
  });
});
