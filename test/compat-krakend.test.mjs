// KrakenD CE compatibility suite: the shape of krakend-ce's integration tests (tests/fixtures/
// krakend.json served against a small backend, one spec file per case with "in" and "out") run
// against `gw run -c`, one gateway per fixture (test/compat/krakend*.json). Each spec is its own test: status code, body (JSON-equal, or string-equal
// when the expected body is a string; not checked when absent) and every listed header (a null
// value means the header must be absent). Placeholders: {{version}}, {{gateway_host}},
// {{backend}}, {{backend_hostport}}.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GW_VERSION } from '../dist/proxy/backend-request.js';
import { startCompatBackend } from './compat/backend.mjs';
import { ROOT, send, startGateway } from './helpers/gateway.mjs';

const COMPAT = join(ROOT, 'test', 'compat');
/** One gateway per fixture; router options change every answer, so they have their own. */
const SUITES = [
  { title: 'core proxy', fixture: 'krakend.json', specs: 'specs' },
  { title: 'router options', fixture: 'krakend-router.json', specs: 'specs-router', area: 'router options' },
];

/** Area of a spec, from its file name, for the summary. */
const AREAS = [
  [
    'forwarding',
    /^(param_forwarding|query_forwarding|header_forwarding|body_forwarding|method_|host_sanitize|concurrent)/,
  ],
  ['manipulation', /^(merge|group|deny|allow|target|collection|flatmap)/],
  ['sequential/static', /^(sequential|static)/],
  ['errors/status', /^(error|detail_error|status_|timeout)/],
  ['no-op/redirects', /^(no_op|redirect)/],
  ['encodings', /^encoding/],
  ['headers/router', /^(cache|empty|router|health)/],
];
const areaOf = (name) => AREAS.find(([, re]) => re.test(name))?.[0] ?? 'other';

/** HEAD over a raw socket: an HTTP client would hide content sent by mistake after the headers. */
function rawHead(target, headers) {
  return new Promise((resolve, reject) => {
    const lines = [
      `HEAD ${target.pathname}${target.search} HTTP/1.1`,
      `Host: ${target.host}`,
      'Connection: close',
    ];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    const socket = net.connect(Number(target.port), target.hostname, () =>
      socket.write(`${lines.join('\r\n')}\r\n\r\n`),
    );
    const chunks = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('request timed out')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      const head = (split < 0 ? raw : raw.slice(0, split)).split('\r\n');
      const res = {
        status: Number(head[0].split(' ')[1]),
        headers: {},
        text: split < 0 ? '' : raw.slice(split + 4),
      };
      for (const line of head.slice(1)) {
        const c = line.indexOf(':');
        res.headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      resolve(res);
    });
  });
}

function request(base, input) {
  const target = new URL(input.url.replace(/^https?:\/\/[^/]+/, ''), base);
  if (input.method === 'HEAD') return rawHead(target, input.header ?? {});
  const body =
    input.body === undefined
      ? undefined
      : Buffer.from(typeof input.body === 'string' ? input.body : JSON.stringify(input.body));
  const headers = { ...(input.header ?? {}) };
  if (body) headers['Content-Length'] = String(body.length);
  return send(base, input.method ?? 'GET', target.pathname + target.search, {
    headers,
    body,
    timeoutMs: 5000,
  });
}

function checkHeaders(expected, actual) {
  for (const [name, want] of Object.entries(expected ?? {})) {
    const got = actual[name.toLowerCase()];
    if (want === null) {
      assert.equal(got, undefined, `header ${name} must be absent, got ${JSON.stringify(got)}`);
      continue;
    }
    if (name.toLowerCase() === 'set-cookie') assert.deepEqual(got, want, `header ${name}`);
    else assert.equal(got, want.join(', '), `header ${name}`);
  }
}

function checkBody(expected, text) {
  if (expected === undefined) return;
  if (typeof expected === 'string') {
    assert.equal(text, expected, 'body');
    return;
  }
  let got;
  try {
    got = JSON.parse(text);
  } catch {
    assert.fail(`body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  assert.deepEqual(got, expected, 'body');
}

const results = [];

after(() => {
  const byArea = new Map();
  for (const { area, ok } of results) {
    const cur = byArea.get(area) ?? { pass: 0, total: 0 };
    cur.total++;
    if (ok) cur.pass++;
    byArea.set(area, cur);
  }
  const pass = results.filter((r) => r.ok).length;
  const lines = [`KrakenD CE compatibility: ${pass} of ${results.length} specs pass`];
  for (const [a, { pass: p, total }] of byArea) lines.push(`  ${a}: ${p}/${total}`);
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  if (failed.length) lines.push(`  failing: ${failed.join(', ')}`);
  console.log(lines.join('\n'));
});

for (const suite of SUITES) {
  const dir = join(COMPAT, suite.specs);
  const specFiles = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  describe(`KrakenD CE compatibility (${suite.title})`, () => {
    let backend;
    let gw;
    let vars;

    before(async () => {
      backend = await startCompatBackend();
      const raw = readFileSync(join(COMPAT, suite.fixture), 'utf8')
        .replaceAll('{{backend_hostport}}', `127.0.0.1:${backend.port}`)
        .replaceAll('{{backend}}', backend.url);
      gw = await startGateway(JSON.parse(raw));
      vars = {
        '{{version}}': GW_VERSION,
        '{{gateway_host}}': `127.0.0.1:${gw.port}`,
        '{{backend}}': backend.url,
        '{{backend_hostport}}': `127.0.0.1:${backend.port}`,
      };
    });

    after(async () => {
      await gw?.stop();
      await backend?.close();
    });

    for (const file of specFiles) {
      const name = file.replace(/\.json$/, '');
      // A spec may name a difference from KrakenD that gw keeps on purpose ("known_difference"):
      // it runs as a todo, counted in the figure, without failing the suite.
      const known = JSON.parse(readFileSync(join(dir, file), 'utf8')).known_difference;
      test(name, known ? { todo: known } : {}, async () => {
        let text = readFileSync(join(dir, file), 'utf8');
        for (const [k, v] of Object.entries(vars)) text = text.replaceAll(k, v);
        const spec = JSON.parse(text);
        let ok = false;
        try {
          const res = await request(gw.url, spec.in);
          assert.equal(res.status, spec.out.status_code, `status (body: ${res.text.slice(0, 200)})`);
          checkBody(spec.out.body, res.text);
          checkHeaders(spec.out.header, res.headers);
          ok = true;
        } finally {
          results.push({ name, area: suite.area ?? areaOf(name), ok });
        }
      });
    }
  });
}
