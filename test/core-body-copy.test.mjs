// gw's backend client reads every connection into one shared buffer and parses it in place: what
// outlives a read (a partial head, body bytes) must be copied before the next read lands. These
// tests interleave many connections whose heads and bodies arrive in pieces and check every byte.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startBackend, startGateway } from './helpers/gateway.mjs';

let api;
let rawApi;
let gw;

/** A body whose every byte depends on the request: a mix-up between connections shows. */
function pattern(seed, size) {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const digest = (b) => createHash('sha256').update(b).digest('hex');
const pause = () => new Promise((r) => setTimeout(r, 2));

/** Writes `buf` in pieces of `piece` bytes with a pause between them. */
async function dribble(socket, buf, piece) {
  for (let at = 0; at < buf.length; at += piece) {
    socket.write(buf.subarray(at, at + piece));
    await pause();
  }
}

before(async () => {
  api = await startBackend(async (req, res) => {
    const [, kind, seedText, sizeText] = req.url.split('/');
    const body = pattern(Number(seedText), Number(sizeText));
    if (kind === 'sized') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      for (let at = 0; at < body.length; at += 50_000) {
        res.write(body.subarray(at, at + 50_000));
        await pause();
      }
      res.end();
    } else {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      for (let at = 0; at < body.length; at += 30_000) {
        res.write(body.subarray(at, at + 30_000));
        await pause();
      }
      res.end();
    }
  });
  // Heads written a few bytes at a time, and the body after them in small pieces.
  rawApi = net.createServer((socket) => {
    let buffered = '';
    socket.on('data', async (chunk) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const seed = Number(buffered.split(' ')[1].split('/')[2]);
      buffered = buffered.slice(end + 4);
      const body = pattern(seed, 3000);
      const head = Buffer.from(
        `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Seed: ${seed}\r\nContent-Length: ${body.length}\r\n\r\n`,
        'latin1',
      );
      await dribble(socket, head, 7);
      await dribble(socket, body, 1000);
    });
  });
  await new Promise((r) => rawApi.listen(0, '127.0.0.1', r));
  const rawHost = `http://127.0.0.1:${rawApi.address().port}`;
  gw = await startGateway({
    version: 3,
    timeout: '5s',
    extra_config: { router: { disable_access_log: true } },
    endpoints: ['sized', 'chunked']
      .map((kind) => ({
        endpoint: `/${kind}/{seed}/{size}`,
        output_encoding: 'no-op',
        backend: [{ host: [api.url], url_pattern: `/${kind}/{seed}/{size}`, encoding: 'no-op' }],
      }))
      .concat([
        {
          endpoint: '/slow-head/{seed}',
          output_encoding: 'no-op',
          backend: [{ host: [rawHost], url_pattern: '/slow-head/{seed}', encoding: 'no-op' }],
        },
      ]),
  });
});

after(async () => {
  await gw?.stop();
  await api?.close();
  await new Promise((r) => (rawApi ? rawApi.close(r) : r()));
});

async function fetchBytes(path) {
  const res = await fetch(`http://127.0.0.1:${gw.port}${path}`);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('backend bodies read through the shared buffer', () => {
  test('large bodies of known size, many connections at once, arrive byte for byte', async () => {
    const sizes = [1, 1500, 65_536, 65_537, 300_000, 1_000_000];
    const answers = await Promise.all(
      sizes.flatMap((size, i) => [0, 1].map((k) => fetchBytes(`/sized/${i * 2 + k + 1}/${size}`))),
    );
    answers.forEach((a, n) => {
      const size = sizes[Math.floor(n / 2)];
      assert.equal(a.status, 200);
      assert.equal(a.body.length, size);
      assert.equal(digest(a.body), digest(pattern(n + 1, size)), `seed ${n + 1}, ${size} bytes`);
    });
  });

  test('chunked bodies interleaved with other connections arrive byte for byte', async () => {
    const answers = await Promise.all([10, 11, 12, 13].map((seed) => fetchBytes(`/chunked/${seed}/250000`)));
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.equal(digest(a.body), digest(pattern(10 + i, 250_000)));
    });
  });

  test('heads that arrive a few bytes at a time keep their bytes while other reads land', async () => {
    const answers = await Promise.all(
      [20, 21, 22, 23, 24, 25].map((seed) => fetchBytes(`/slow-head/${seed}`)),
    );
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.equal(a.headers.get('x-seed'), String(20 + i));
      assert.equal(digest(a.body), digest(pattern(20 + i, 3000)));
    });
  });
});
