// Large no-op answers stream from backend to client at the client's pace (src/proxy/http-client.ts
// AnswerCollector, the fronts' passStream): the body arrives intact, known lengths are announced,
// a client that reads nothing holds a window of the body instead of all of it, and a client that
// goes away closes the backend's connection too. Lura passes a no-op body on as a stream as well
// (proxy/http_response.go NoOpHTTPResponseParser: the body reader, copied by the router).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startBackend, startGateway } from './helpers/gateway.mjs';

const MiB = 1024 * 1024;
const sha = (b) => createHash('sha256').update(b).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

describe('no-op answers larger than 64 KiB stream', () => {
  const big = randomBytes(10 * MiB);
  // Larger than what the kernel's socket buffers take on loopback (a few MiB each way): a
  // backend can only finish sending it when gw reads it.
  const huge = Buffer.alloc(32 * MiB, 'h');
  let backend;
  let gw;
  /** Backend connections that served /huge and are now closed. */
  const hugeClosed = { count: 0 };

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(big.length),
          'x-origin': 'big',
        });
        res.end(big);
      } else if (req.url === '/huge') {
        req.socket.once('close', () => hugeClosed.count++);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(huge.length),
        });
        res.end(huge);
      } else if (req.url === '/chunked') {
        // No length: chunked, written in pieces over time.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let at = 0;
        const next = () => {
          if (at >= big.length) return res.end();
          res.write(big.subarray(at, at + 1 * MiB));
          at += 1 * MiB;
          setTimeout(next, 2);
        };
        next();
      } else if (req.url === '/cut') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(big.length),
        });
        res.write(big.subarray(0, 3 * MiB));
        setTimeout(() => req.socket.destroy(), 20);
      } else res.writeHead(404).end();
    });
    const noop = (path) => ({
      endpoint: path,
      output_encoding: 'no-op',
      backend: [{ host: [backend.url], url_pattern: path, encoding: 'no-op' }],
    });
    gw = await startGateway({
      version: 3,
      timeout: '10s',
      endpoints: [noop('/big'), noop('/huge'), noop('/chunked'), noop('/cut')],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  test('the body arrives whole: a known length announced, an unknown one chunked, headers passed on', async () => {
    const res = await request(`${gw.url}/big`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(big.length));
    assert.equal(res.headers['x-origin'], 'big');
    assert.equal(res.headers['x-krakend-completed'], 'false');
    assert.equal(sha(Buffer.from(await res.body.arrayBuffer())), sha(big));
    const chunked = await request(`${gw.url}/chunked`);
    assert.equal(chunked.statusCode, 200);
    assert.equal(chunked.headers['content-length'], undefined);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(sha(Buffer.from(await chunked.body.arrayBuffer())), sha(big));
  });

  test('a slow reader gets every byte', async () => {
    const res = await request(`${gw.url}/big`, { highWaterMark: 16 * 1024 });
    const chunks = [];
    let n = 0;
    for await (const chunk of res.body) {
      chunks.push(chunk);
      if (++n % 16 === 0) await sleep(5);
    }
    assert.equal(sha(Buffer.concat(chunks)), sha(big));
  });

  test('Connection: close gets the whole body, then the close', async () => {
    const closing = await request(`${gw.url}/big`, { headers: { connection: 'close' } });
    assert.equal(closing.headers.connection, 'close');
    assert.equal(sha(Buffer.from(await closing.body.arrayBuffer())), sha(big));
  });

  test('20 clients that read nothing hold a window each, and their going closes the backend calls', async (t) => {
    const pid = gw.child.pid;
    const before = rssMb(pid);
    const closedBefore = hugeClosed.count;
    const sockets = [];
    for (let i = 0; i < 20; i++) {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET /huge HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      socket.pause();
      sockets.push(socket);
    }
    await sleep(2500);
    const held = rssMb(pid) - before;
    t.diagnostic(`20 stalled clients of a 32 MiB body: gw RSS +${held.toFixed(0)} MiB`);
    // Buffered whole, each would hold its 32 MiB at least: 640 MiB.
    assert.ok(held < 150, `RSS grew by ${held.toFixed(0)} MiB`);
    const ok = await request(`${gw.url}/big`);
    assert.equal(sha(Buffer.from(await ok.body.arrayBuffer())), sha(big), 'others are served meanwhile');
    for (const s of sockets) s.destroy();
    // gw keeps a backend connection it reads whole; one it stops reading half-way is closed.
    for (let i = 0; i < 50 && hugeClosed.count - closedBefore < 20; i++) await sleep(100);
    assert.equal(hugeClosed.count - closedBefore, 20, 'every backend call ended with its client');
  });

  test('a backend that fails mid-body: the client’s answer is cut, and gw goes on', async () => {
    const res = await request(`${gw.url}/cut`);
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.arrayBuffer());
    const ok = await request(`${gw.url}/big`);
    assert.equal(ok.statusCode, 200);
    await ok.body.dump({ limit: Number.POSITIVE_INFINITY });
  });
});
