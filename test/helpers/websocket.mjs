// WebSocket test helpers: real `ws` backends and clients on 127.0.0.1.
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';

/** The fronts each WebSocket test runs on (`GW_TEST_FRONTS=uws` narrows it while debugging). */
export const FRONTS = process.env.GW_TEST_FRONTS?.split(',') ?? ['node', 'uws'];

/**
 * A `ws` backend. `multiplexed`: answers KrakenD's opening message with `OK` (as a multiplexing
 * backend must), and echoes each envelope back to its sender's session (as krakend/examples'
 * websocket_server does) unless `onMessage` says otherwise. Records `connections` (the upgrade
 * requests) and `messages` (parsed when JSON).
 */
export async function startWsBackend({ multiplexed = true, onMessage, onConnection, handleProtocols } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols });
  await once(wss, 'listening');
  const connections = [];
  const messages = [];
  const sockets = new Set();
  wss.on('connection', (ws, req) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => {});
    connections.push({ url: req.url, headers: req.headers, protocol: ws.protocol, ws });
    let opened = !multiplexed;
    ws.on('message', (data, binary) => {
      if (!opened) {
        // The opening message of a multiplexed channel.
        messages.push({ handshake: data.toString() });
        opened = true;
        ws.send('OK');
        return;
      }
      let parsed;
      if (!binary) {
        try {
          parsed = JSON.parse(data.toString());
        } catch {}
      }
      messages.push(parsed ?? { raw: data, binary });
      if (onMessage) onMessage(ws, parsed, data, binary);
      else if (multiplexed && parsed?.body !== undefined)
        ws.send(JSON.stringify({ session: { uuid: parsed.session.uuid }, body: parsed.body }));
      else if (!multiplexed) ws.send(data, { binary });
    });
    onConnection?.(ws, req);
  });
  const { port } = wss.address();
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    wss,
    connections,
    messages,
    sockets,
    /** Every backend connection (a multiplexed channel, or a direct client's). */
    broadcast(data) {
      for (const s of sockets) s.send(data);
    },
    async waitFor(pred, timeoutMs = 10000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const hit = messages.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no backend message matched; got ${JSON.stringify(messages).slice(0, 500)}`);
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.terminate();
        wss.close(() => r());
      }),
  };
}

/**
 * A `ws` client that keeps what it receives: `next()` resolves the next message ({ data, binary,
 * text }), `closed` resolves { code, reason } once closed. `options` go to `ws`.
 */
export function openClient(url, protocols, options = {}) {
  const ws = new WebSocket(url, protocols, options);
  const inbox = [];
  const waiters = [];
  ws.on('message', (data, binary) => {
    const m = { data, binary, text: binary ? undefined : data.toString() };
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = new Promise((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`HTTP ${res.statusCode}`), {
            status: res.statusCode,
            body,
            headers: res.headers,
          }),
        ),
      );
    });
    ws.once('error', reject);
  });
  opened.catch(() => {});
  return {
    ws,
    opened,
    closed,
    send: (d, opts) => ws.send(d, opts),
    next(timeoutMs = 10000) {
      if (inbox.length > 0) return Promise.resolve(inbox.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no message within the timeout')), timeoutMs);
        waiters.push((m) => {
          clearTimeout(t);
          resolve(m);
        });
      });
    },
    /** Resolves true when nothing arrives within `ms`. */
    async quiet(ms = 300) {
      await new Promise((r) => setTimeout(r, ms));
      return inbox.length === 0;
    },
    close: () => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    },
  };
}

/** The gateway's ws:// URL for a path. */
export function wsUrl(gw, path) {
  return `ws://127.0.0.1:${gw.port}${path}`;
}
