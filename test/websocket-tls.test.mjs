// WebSockets on a TLS listener (wss://): the upgrade reaches the same pipeline whichever server
// terminates TLS — node:http2's secure server, which parses HTTP/1.1 itself (allowHTTP1) and
// hands it the upgrade, or uWS's SSLApp with `--front uws`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { makePki } from './fixtures/security/certs.mjs';
import { startGateway } from './helpers/gateway.mjs';
import { FRONTS, openClient, startWsBackend } from './helpers/websocket.mjs';

for (const front of FRONTS) {
  describe(`wss:// (--front ${front})`, () => {
    let pki;
    let be;
    let gw;
    before(async () => {
      pki = makePki();
      be = await startWsBackend({
        multiplexed: false,
        onMessage: (ws, _parsed, data, binary) => ws.send(data, { binary }),
      });
      gw = await startGateway(
        {
          version: 3,
          tls: { keys: [{ public_key: pki.cert, private_key: pki.key }] },
          endpoints: [
            {
              endpoint: '/echo',
              backend: [{ url_pattern: '/echo', disable_host_sanitize: true, host: [be.url] }],
              extra_config: { websocket: { enable_direct_communication: true } },
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

    test('a client connects with wss://, sends text and binary, and gets them back', async () => {
      // the test certificate names IP:127.0.0.1
      const client = openClient(`wss://127.0.0.1:${gw.port}/echo`, undefined, { ca: readFileSync(pki.ca) });
      try {
        await client.opened;
        client.send('over tls');
        assert.equal((await client.next()).text, 'over tls');
        client.send(Buffer.from([0, 1, 2, 255]), { binary: true });
        const m = await client.next();
        assert.equal(m.binary, true);
        assert.deepEqual([...m.data], [0, 1, 2, 255]);
      } finally {
        client.close();
      }
    });
  });
}
