// A WebSocket upgrade runs the endpoint's pipeline before it is admitted, as any request does:
// the bot detector, JWT validation (auth/validator), rate limits (qos/ratelimit/router) and
// CORS (security/cors, service level) answer it with their own status, and only an admitted
// upgrade reaches the backend. Configuration mistakes are refused by `gw check` with their path.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importJWK, SignJWT } from 'jose';
import { runGw, startGateway, writeConfig } from './helpers/gateway.mjs';
import { FRONTS, openClient, startWsBackend, wsUrl } from './helpers/websocket.mjs';

const dir = mkdtempSync(join(tmpdir(), 'gw-ws-auth-'));
const KEY = {
  kty: 'oct',
  k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
  kid: 'sim2',
  alg: 'HS256',
};
const jwkPath = join(dir, 'symmetric.json');
writeFileSync(jwkPath, JSON.stringify({ keys: [KEY] }));

/** Sends a raw upgrade head; resolves with all the connection answered once the server closed it. */
function rawUpgrade(gw, path, headerLines) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close after: ${Buffer.concat(chunks).toString('latin1')}`));
    }, 5000);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    const head = [
      `GET ${path} HTTP/1.1`,
      ...headerLines,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

async function refusal(url, options) {
  const c = openClient(url, undefined, options);
  return c.opened.then(
    (ws) => {
      ws.terminate();
      return { status: 101 };
    },
    (e) => e,
  );
}

for (const front of FRONTS) {
  describe(`admission at the upgrade (--front ${front})`, () => {
    let be;
    let gw;
    let token;
    before(async () => {
      token = await new SignJWT({ sub: 'ana', roles: ['user'] })
        .setProtectedHeader({ alg: 'HS256', kid: 'sim2' })
        .sign(await importJWK(KEY));
      be = await startWsBackend();
      const backend = [{ url_pattern: '/ws', disable_host_sanitize: true, host: [be.url] }];
      gw = await startGateway(
        {
          version: 3,
          extra_config: {
            'security/cors': { allow_origins: ['https://app.example'], allow_methods: ['GET'] },
          },
          endpoints: [
            {
              endpoint: '/secure',
              backend,
              extra_config: {
                websocket: {},
                'auth/validator': {
                  alg: 'HS256',
                  jwk_local_path: jwkPath,
                  disable_jwk_security: true,
                  roles_key: 'roles',
                  roles: ['user'],
                  propagate_claims: [['sub', 'X-User']],
                },
              },
            },
            {
              endpoint: '/limited',
              backend,
              extra_config: {
                websocket: {},
                'qos/ratelimit/router': { max_rate: 1, capacity: 1, every: '1h' },
              },
            },
            {
              endpoint: '/humans',
              backend,
              extra_config: { websocket: {}, 'security/bot-detector': { deny: ['BadBot/1.0'] } },
            },
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
    });
    after(async () => {
      await gw?.stop();
      await be?.close();
    });

    test('auth/validator: no token 401, a valid one upgrades and its propagated claims reach the session', async () => {
      assert.equal((await refusal(wsUrl(gw, '/secure'))).status, 401);
      assert.equal(
        (await refusal(wsUrl(gw, '/secure'), { headers: { Authorization: 'Bearer nope' } })).status,
        401,
      );
      const c = openClient(wsUrl(gw, '/secure'), undefined, {
        headers: { Authorization: `Bearer ${token}` },
      });
      await c.opened;
      c.send('hi');
      assert.equal((await c.next()).text, 'hi');
      const env = await be.waitFor((m) => m.url === '/secure' && m.body !== undefined);
      assert.equal(env.session['X-User'], 'ana');
      c.close();
    });

    test('qos/ratelimit/router: the upgrade past the limit answers 503', async () => {
      const first = openClient(wsUrl(gw, '/limited'));
      await first.opened;
      assert.equal((await refusal(wsUrl(gw, '/limited'))).status, 503);
      first.close();
    });

    test('security/bot-detector: a denied User-Agent gets 403', async () => {
      assert.equal(
        (await refusal(wsUrl(gw, '/humans'), { headers: { 'User-Agent': 'BadBot/1.0' } })).status,
        403,
      );
      assert.equal(
        (await refusal(wsUrl(gw, '/humans'), { headers: { 'User-Agent': 'Mozilla/5.0' } })).status,
        101,
      );
    });

    // An upgrade is a request: the head checks every request gets (src/server/http1.ts, Go's
    // net/http server.go readRequest: missing or repeated Host is 400) apply before any endpoint.
    test('a bad upgrade head (no Host, two Hosts, a bad Host) gets 400 and the connection closes', async () => {
      // The old uWebSockets.js build (--front uws on Node 20) drops a head without Host unanswered
      // in its own parser, before gw sees it (a documented limit of that build).
      const oldBuild = /old uWebSockets\.js build/.test(gw.logs());
      const heads = [['Host: a', 'Host: b'], ['Host: a b<c'], ...(oldBuild ? [] : [[]])];
      for (const lines of heads) {
        const answer = await rawUpgrade(gw, '/humans', lines);
        assert.match(answer, /^HTTP\/1\.1 400 /, `${JSON.stringify(lines)} → ${answer}`);
      }
      const ok = await refusal(wsUrl(gw, '/humans'));
      assert.equal(ok.status, 101, 'a good upgrade still opens');
    });

    test('security/cors: an allowed Origin gets its Access-Control-Allow-Origin on the 101', async () => {
      const c = openClient(wsUrl(gw, '/humans'), undefined, { headers: { Origin: 'https://app.example' } });
      const seen = new Promise((r) => c.ws.once('upgrade', (res) => r(res.headers)));
      await c.opened;
      const headers = await seen;
      assert.equal(headers['access-control-allow-origin'], 'https://app.example');
      c.close();
    });
  });
}

describe('websocket configuration errors', () => {
  test('gw check: a wrong field type, an unknown field and a bad strategy, each with its JSON path (exit 1)', async () => {
    const file = writeConfig({
      version: 3,
      endpoints: [
        {
          endpoint: '/ws',
          backend: [{ url_pattern: '/', host: ['ws://chat:8080'] }],
          extra_config: {
            websocket: { max_message_size: 'big', backoff_strategy: 'sometimes', unknown_field: 1 },
          },
        },
      ],
    });
    const { code, stdout, stderr } = await runGw(['check', '-c', file]);
    const out = stdout + stderr;
    assert.equal(code, 1, out);
    assert.match(out, /\$\.endpoints\[0\]\.extra_config\.websocket\.max_message_size: expected an integer/);
    assert.match(out, /\.websocket\.backoff_strategy: expected one of "linear"/);
    assert.match(out, /\.websocket\.unknown_field: unknown property/);
  });

  test('gw check: a backend host that is not ws:// or wss:// (exit 1)', async () => {
    const file = writeConfig({
      version: 3,
      endpoints: [
        {
          endpoint: '/ws',
          backend: [{ url_pattern: '/', host: ['http://chat:8080'] }],
          extra_config: { websocket: {} },
        },
      ],
    });
    const { code, stdout, stderr } = await runGw(['check', '-c', file]);
    assert.equal(code, 1);
    assert.match(
      stdout + stderr,
      /\$\.endpoints\[0\]\.backend\[0\]\.host\[0\]: expected a WebSocket host like "ws:\/\/chat:8081"/,
    );
  });

  test('gw run refuses the same configuration and exits 1', async () => {
    const file = writeConfig({
      version: 3,
      endpoints: [
        {
          endpoint: '/ws',
          method: 'POST',
          backend: [{ host: ['ws://chat:8080'] }],
          extra_config: { websocket: {} },
        },
      ],
    });
    const { code, stdout, stderr } = await runGw(['run', '-c', file]);
    assert.equal(code, 1);
    assert.match(stdout + stderr, /\$\.endpoints\[0\]\.method.*GET/);
  });
});
