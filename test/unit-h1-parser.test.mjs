// The backend client's HTTP/1.1 response parser: every response is also fed split at every
// byte boundary and one byte at a time, since sockets cut responses anywhere.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeadMode, ParseError, ResponseParser } from '../dist/proxy/h1-parser.js';

function collector() {
  const out = { heads: [], body: [], completions: [] };
  out.sink = {
    onHead: (status, headers, passed, bodyLength) => out.heads.push({ status, headers, passed, bodyLength }),
    onBody: (chunk) => out.body.push(Buffer.from(chunk)),
    onMessageComplete: (keepAlive) => out.completions.push(keepAlive),
  };
  out.text = () => Buffer.concat(out.body).toString('latin1');
  return out;
}

/** Feeds `pieces` to a fresh parser; returns what it saw and the bytes it left unused. */
function parse(pieces, { head = false, end = false, mode = HeadMode.Map } = {}) {
  const out = collector();
  const parser = new ResponseParser(out.sink);
  parser.expect(head, mode);
  let unused = 0;
  for (const piece of pieces) {
    const buf = Buffer.from(piece, 'latin1');
    const used = parser.execute(buf);
    unused += buf.length - used;
  }
  if (end) out.finished = parser.finish();
  out.unused = unused;
  return out;
}

function splits(text) {
  const all = [[text], [...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

function assertSameEverySplit(text, expected, opts) {
  for (const pieces of splits(text)) {
    const out = parse(pieces, opts);
    assert.equal(out.heads.length, 1, `one head for split ${pieces.length}`);
    assert.equal(out.heads[0].status, expected.status);
    assert.equal(out.text(), expected.body, `body for split at ${pieces[0].length}`);
    assert.deepEqual(out.completions, expected.completions ?? [true]);
    if (expected.headers) assert.deepEqual(out.heads[0].headers, expected.headers);
    if (expected.passed !== undefined) {
      assert.ok(Buffer.isBuffer(out.heads[0].passed), 'pass mode hands the lines over as bytes');
      assert.equal(out.heads[0].passed.toString('latin1'), expected.passed);
    }
    assert.equal(out.unused, 0);
  }
}

describe('ResponseParser', () => {
  test('Content-Length body, headers lower-cased, trimmed, repeated ones as a list', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Type:  application/json \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 11\r\n\r\n{"a":"b c"}';
    assertSameEverySplit(text, {
      status: 200,
      body: '{"a":"b c"}',
      headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'content-length': '11' },
    });
  });

  test('header names in any case, known or not, come out lower-cased', () => {
    const out = parse([
      'HTTP/1.1 200 OK\r\nCONTENT-TYPE: a\r\nContent-Typo: b\r\nx-Custom-Thing: c\r\nETAG: d\r\nContent-Length: 0\r\n\r\n',
    ]);
    assert.deepEqual(out.heads[0].headers, {
      'content-type': 'a',
      'content-typo': 'b',
      'x-custom-thing': 'c',
      etag: 'd',
      'content-length': '0',
    });
  });

  test('pass and lean modes: the framing still read, only the names the client needs kept', () => {
    const head =
      'HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\n' +
      'Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nX-Trace: t\r\nConnection: close\r\n\r\n';
    const text = `${head}2\r\n{}\r\n0\r\n\r\n`;
    const kept = { 'keep-alive': 'timeout=5', 'content-encoding': 'gzip' };
    assertSameEverySplit(
      text,
      {
        status: 200,
        body: '{}',
        headers: kept,
        passed: '\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nX-Trace: t',
        completions: [false],
      },
      { mode: HeadMode.Pass },
    );
    assertSameEverySplit(
      text,
      { status: 200, body: '{}', headers: kept, completions: [false] },
      { mode: HeadMode.Lean },
    );
    const lean = parse([text], { mode: HeadMode.Lean });
    assert.equal(lean.heads[0].passed, undefined);
    assert.equal(lean.heads[0].bodyLength, -1);
    const sized = parse(['HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 3\r\n\r\nabc'], {
      mode: HeadMode.Lean,
    });
    assert.deepEqual(sized.heads[0].headers, { location: '/next' });
    assert.equal(sized.heads[0].bodyLength, 3);
    assert.deepEqual(sized.completions, [true]);
    assert.throws(
      () => parse(['HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n'], { mode: HeadMode.Lean }),
      ParseError,
    );
  });

  test('pass mode: the lines are bytes as they came, their own copy of the read buffer', () => {
    const out = collector();
    const parser = new ResponseParser(out.sink);
    parser.expect(false, HeadMode.Pass);
    // An obs-text byte (0xE9) in a value passes as that byte, not re-encoded.
    const read = Buffer.from(
      'HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nConnection: keep-alive\r\nETag: "1"\r\nContent-Length: 2\r\n\r\n{}',
      'latin1',
    );
    assert.equal(parser.execute(read), read.length);
    read.fill(0);
    assert.deepEqual(
      [...out.heads[0].passed],
      [...Buffer.from('\r\nX-Name: caf\xe9\r\nETag: "1"', 'latin1')],
      'the runs around Connection, unchanged after the read buffer is reused',
    );
  });

  test('chunked body with extensions and trailers', () => {
    const text =
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n';
    assertSameEverySplit(text, { status: 201, body: 'hello, world!!!' });
  });

  test('a body framed by the end of the connection is complete at finish(), and closes', () => {
    const text = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end';
    for (const pieces of splits(text)) {
      const out = parse(pieces, { end: true });
      assert.equal(out.text(), 'until the end');
      assert.deepEqual(out.completions, [false]);
      assert.equal(out.finished, true);
    }
  });

  test('a cut Content-Length body is not complete at finish()', () => {
    const out = parse(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], { end: true });
    assert.equal(out.finished, false);
    assert.deepEqual(out.completions, []);
  });

  test('100 Continue is skipped; HEAD, 204 and 304 have no body', () => {
    assertSameEverySplit('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', {
      status: 200,
      body: 'ok',
    });
    assertSameEverySplit(
      'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n',
      { status: 200, body: '' },
      { head: true },
    );
    assertSameEverySplit('HTTP/1.1 204 No Content\r\n\r\n', { status: 204, body: '' });
    assertSameEverySplit('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n', { status: 304, body: '' });
  });

  test('keep-alive: Connection: close and HTTP/1.0 end the connection, keep-alive on 1.0 keeps it', () => {
    assert.deepEqual(
      parse(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']).completions,
      [false],
    );
    assert.deepEqual(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).completions, [false]);
    assert.deepEqual(
      parse(['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n']).completions,
      [true],
    );
  });

  test('bytes after the response are left unused', () => {
    const out = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA']);
    assert.equal(out.text(), 'ok');
    assert.equal(out.unused, 5);
    const chunked = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1']);
    assert.equal(chunked.unused, 8);
  });

  test('what is not HTTP/1.x throws ParseError', () => {
    const bad = [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 2x0 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY',
      'HTTP/1.1 101 Switching Protocols\r\n\r\n',
      // a bare LF or CR, or a NUL, in a header would split gw's own response when forwarded
      'HTTP/1.1 200 OK\r\nX-A: one\nX-Injected: two\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: one\rX-Injected: two\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: one\0two\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\rX-Injected: two\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: one\nX-Injected: two\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: one\rtwo\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: one\n\rContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: x\r\nContent-Length: 0\r\n\r\n',
    ];
    // Lean mode parses the bytes in its own pass (and gathers a head cut across reads first): it
    // must refuse the same heads, whole or cut anywhere.
    for (const mode of [HeadMode.Map, HeadMode.Pass, HeadMode.Lean])
      for (const text of bad)
        for (const pieces of splits(text))
          assert.throws(
            () => parse(pieces, { mode }),
            ParseError,
            `${HeadMode[mode]} ${JSON.stringify(pieces)}`,
          );
  });

  test('lean mode reads framing and kept names from a head in any case, whole or cut anywhere', () => {
    const text =
      'HTTP/1.1 200 OK\r\nserver: nginx\r\nCONTENT-LENGTH:  2 \r\nLocation:\t/x \r\nX-Long-Name-Here: 1\r\n' +
      'connection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nkeep-alive: max=9\r\n\r\nok';
    assertSameEverySplit(
      text,
      { status: 200, body: 'ok', headers: { location: '/x', 'keep-alive': ['timeout=5', 'max=9'] } },
      { mode: HeadMode.Lean },
    );
    for (const [version, connection, completions] of [
      ['1.1', 'CLOSE', [false]],
      ['1.1', 'closed', [true]],
      ['1.1', 'keep-alive', [true]],
      ['1.0', 'Keep-Alive', [true]],
      ['1.0', 'keep-alives', [false]],
    ])
      assert.deepEqual(
        parse([`HTTP/${version} 200 OK\r\nConnection: ${connection}\r\nContent-Length: 0\r\n\r\n`], {
          mode: HeadMode.Lean,
        }).completions,
        completions,
        `HTTP/${version} Connection: ${connection}`,
      );
    assertSameEverySplit(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      { status: 200, body: 'ok', headers: {} },
      { mode: HeadMode.Lean },
    );
  });

  test('a head larger than 64 KiB throws instead of growing without end', () => {
    const out = collector();
    const parser = new ResponseParser(out.sink);
    parser.expect(false);
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n'));
    const line = Buffer.from(`X-Big: ${'a'.repeat(1000)}\r\n`);
    assert.throws(() => {
      for (let i = 0; i < 100; i++) parser.execute(line);
    }, /too large/);
  });
});
