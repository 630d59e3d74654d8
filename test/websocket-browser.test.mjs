// A real browser through gw: headless Chromium loads a page served by an HTTP backend through
// gw, opens a WebSocket to gw's multiplexed endpoint, sends a message, and writes what comes back
// into the DOM, read with --dump-dom. The page's load waits for an image the backend answers
// only after the WebSocket backend has echoed, so the dump sees the answer (virtual time does not
// run while a request is pending). Skipped where Chromium is absent (e.g. the Debian 13 root).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { startBackend, startGateway } from './helpers/gateway.mjs';
import { FRONTS, startWsBackend } from './helpers/websocket.mjs';

function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      execFileSync('which', [name], { stdio: 'pipe' });
      return name;
    } catch {}
  }
  return undefined;
}
const chromium = findChromium();

const PAGE = `<!doctype html><html><body><div id="out">waiting</div><script>
const out = document.getElementById('out');
const ws = new WebSocket('ws://' + location.host + '/chat/browsers');
ws.binaryType = 'arraybuffer';
ws.onopen = () => ws.send('hello from chromium');
ws.onmessage = (e) => { out.textContent = 'received: ' + e.data; ws.close(1000); };
ws.onerror = () => { out.textContent = 'socket error'; };
</script><img src="/gate"></body></html>`;

for (const front of FRONTS) {
  test(`headless Chromium opens a WebSocket through gw, sends and receives (--front ${front})`, {
    skip: chromium === undefined ? 'chromium is not installed (apt-get install chromium)' : false,
    timeout: 120000,
  }, async () => {
    let echoed;
    const echoedOnce = new Promise((r) => (echoed = r));
    const be = await startWsBackend({
      onMessage: (ws, msg) => {
        ws.send(JSON.stringify({ session: { uuid: msg.session.uuid }, body: msg.body }));
        echoed(msg);
      },
    });
    const web = await startBackend(async (req, res) => {
      if (req.url === '/gate') {
        await Promise.race([echoedOnce, new Promise((r) => setTimeout(r, 20000))]);
        await new Promise((r) => setTimeout(r, 500));
        res.statusCode = 204;
        res.end();
        return;
      }
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(PAGE);
    });
    const noop = (path) => ({
      endpoint: path,
      output_encoding: 'no-op',
      backend: [{ host: [web.url], url_pattern: path, encoding: 'no-op' }],
    });
    const gw = await startGateway(
      {
        version: 3,
        endpoints: [
          noop('/'),
          noop('/gate'),
          {
            endpoint: '/chat/{room}',
            backend: [{ url_pattern: '/ws', disable_host_sanitize: true, host: [be.url] }],
            extra_config: { websocket: {} },
          },
        ],
      },
      { args: ['--workers', '1', '--front', front] },
    );
    try {
      const dom = await new Promise((resolve, reject) => {
        execFile(
          chromium,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--dump-dom',
            '--virtual-time-budget=10000',
            `${gw.url}/`,
          ],
          { timeout: 90000 },
          (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout)),
        );
      });
      assert.match(dom, /<div id="out">received: hello from chromium<\/div>/);
      const msg = await echoedOnce;
      assert.equal(msg.url, '/chat/browsers');
      assert.equal(msg.session.Room, 'browsers');
      assert.equal(Buffer.from(msg.body, 'base64').toString(), 'hello from chromium');
    } finally {
      await gw.stop();
      await be.close();
      await web.close();
    }
  });
}
