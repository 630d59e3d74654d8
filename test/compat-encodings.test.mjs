// Output encodings as KrakenD CE renders them, through the real `gw run` and a real backend.
// Sources: lura router/gin/render.go (negotiatedRender, yamlRender), gin context.go
// (NegotiateFormat) and render/yaml.go, krakend-ce encoding.go (RegisterEncoders puts
// krakend-xml's render under "xml"), krakend-xml gin/render.go (Render) and xml.go (Decoder),
// mxj v1 xml.go (Map.Xml, mapToXmlIndent), goccy/go-yaml encode.go and ast/ast.go.
// Cases from lura's router/gin/render_test.go and krakend-xml's gin/render_test.go, rewritten
// against HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, startBackend, startGateway } from './helpers/gateway.mjs';

const BODIES = {
  '/render-test': { a: { content: 'supu & tupu' }, content: 'tupu', foo: 42 },
  '/user': { user: { '-id': '7', name: 'Alice' } },
  '/quotes': { q: 'it\'s "x" <b>' },
  '/objects': [{ id: 1 }, { id: 2 }],
  '/scalars': [1, 'two'],
  '/yaml': {
    name: 'gw',
    n: 42,
    ok: true,
    tags: ['a', 'b'],
    nested: { z: null, when: '2024-01-02', time: '12:30', no: 'no', text: 'line one\nline two' },
    empty: {},
    none: [],
    rows: [{ b: 'x', a: 'y' }, ['p', 'q']],
    'key: colon': '#hash',
  },
  '/status': { status: 'ok' },
  '/quoting': {
    a: '2024-01-02 3:04:05',
    b: '2024-13-02',
    c: '1e5',
    d: '017',
    e: '018',
    f: '0x1F',
    g: '1.2.3',
    h: '- x',
    i: 'x #y',
    j: '~',
    k: '25:00',
    l: 'Off',
    m: 'tab\there',
    o: '"q" é\u0007',
  },
  '/empty-object': {},
};

// The YAML goccy/go-yaml writes for BODIES['/yaml'] once lura's JSON decoder made its numbers
// json.Number (a Go string type): sorted keys, quoted numbers, lists at their key's column.
const YAML = [
  'empty: {}',
  '"key: colon": "#hash"',
  '"n": "42"',
  'name: gw',
  'nested:',
  '  "no": "no"',
  '  text: |-',
  '    line one',
  '    line two',
  '  time: "12:30"',
  '  when: "2024-01-02"',
  '  z: null',
  'none: []',
  'ok: true',
  'rows:',
  '- a: "y"',
  '  b: x',
  '- - p',
  '  - q',
  'tags:',
  '- a',
  '- b',
  '',
].join('\n');

describe('KrakenD CE output encodings over HTTP', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await startBackend((req, res) => {
      const path = req.url.split('?')[0];
      if (path === '/xml-empty') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(BODIES[path]));
    });
    const ep = (endpoint, urlPattern, outputEncoding, extra = {}) => ({
      endpoint,
      output_encoding: outputEncoding,
      backend: [{ host: [backend.url], url_pattern: urlPattern, ...extra }],
    });
    gw = await startGateway({
      version: 3,
      timeout: '3s',
      endpoints: [
        ep('/xml/render-test', '/render-test', 'xml'),
        ep('/xml/user', '/user', 'xml'),
        ep('/xml/quotes', '/quotes', 'xml'),
        ep('/xml/objects', '/objects', 'xml', { is_collection: true }),
        ep('/xml/scalars', '/scalars', 'xml', { is_collection: true }),
        ep('/xml/empty-object', '/empty-object', 'xml'),
        ep('/xml/empty-backend', '/xml-empty', 'json', { encoding: 'xml' }),
        ep('/yaml', '/yaml', 'yaml'),
        ep('/yaml/quoting', '/quoting', 'yaml'),
        ep('/negotiate', '/status', 'negotiate'),
        ep('/negotiate/yaml', '/yaml', 'negotiate'),
        ep('/negotiate/user', '/user', 'negotiate'),
        ep('/negotiate/empty', '/empty-object', 'negotiate'),
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  test('krakend-xml gin/render_test.go TestRender: root doc, sorted keys, escaped text, Content-Type application/xml', async () => {
    const r = await get(`${gw.url}/xml/render-test`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/xml');
    assert.equal(
      r.text,
      '<doc><a><content>supu &amp; tupu</content></a><content>tupu</content><foo>42</foo></doc>',
    );
  });

  test('mxj Map.Xml: a lone key is the root element; -name keys are attributes', async () => {
    const r = await get(`${gw.url}/xml/user`);
    assert.equal(r.text, '<user id="7"><name>Alice</name></user>');
  });

  test("mxj escapeChars (XMLEscapeChars(true) in krakend-xml's render): & < > \" ' are all escaped", async () => {
    const r = await get(`${gw.url}/xml/quotes`);
    assert.equal(r.text, '<q>it&apos;s &quot;x&quot; &lt;b&gt;</q>');
  });

  test('mxj Map.Xml: a lone key holding objects repeats it as roots; holding scalars, the root is doc', async () => {
    assert.equal(
      (await get(`${gw.url}/xml/objects`)).text,
      '<collection><id>1</id></collection><collection><id>2</id></collection>',
    );
    assert.equal(
      (await get(`${gw.url}/xml/scalars`)).text,
      '<doc><collection>1</collection><collection>two</collection></doc>',
    );
  });

  test('mxj Map.Xml: no data is an empty doc element, answered incomplete (lura router/gin/endpoint.go)', async () => {
    const r = await get(`${gw.url}/xml/empty-object`);
    assert.equal(r.status, 200);
    assert.equal(r.text, '<doc/>');
    assert.equal(r.headers.get('x-krakend-completed'), 'false');
  });

  test('krakend-xml xml.go Decoder: an empty XML body fails the backend (mxj meets io.EOF before a root)', async () => {
    const r = await get(`${gw.url}/xml/empty-backend`);
    assert.equal(r.status, 500);
    assert.equal(r.headers.get('x-krakend-completed'), 'false');
  });

  test('lura yamlRender + gin render/yaml.go: goccy/go-yaml bytes, application/yaml', async () => {
    const r = await get(`${gw.url}/yaml`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/yaml; charset=utf-8');
    assert.equal(r.text, YAML);
  });

  test('goccy token.IsNeedQuoted: numbers, timestamps, YAML 1.1 booleans and indicators are quoted, Go-escaped', async () => {
    const r = await get(`${gw.url}/yaml/quoting`);
    assert.equal(
      r.text,
      [
        'a: "2024-01-02 3:04:05"',
        'b: 2024-13-02',
        'c: 1e5',
        'd: "017"',
        'e: 018',
        'f: "0x1F"',
        'g: 1.2.3',
        'h: "- x"',
        'i: "x #y"',
        'j: "~"',
        'k: 25:00',
        'l: "Off"',
        'm: tab\there',
        'o: "\\"q\\" é\\a"',
        '',
      ].join('\n'),
    );
  });

  test('lura render_test.go TestRender_Negotiated_ok: text/plain → YAML, none/json → JSON, xml → the xml render', async () => {
    const plain = await get(`${gw.url}/negotiate/yaml`, { headers: { accept: 'text/plain' } });
    assert.equal(plain.headers.get('content-type'), 'application/yaml; charset=utf-8');
    assert.equal(plain.text, YAML);
    const none = await get(`${gw.url}/negotiate`, { headers: { accept: '' } });
    assert.equal(none.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(none.json, { status: 'ok' });
    const json = await get(`${gw.url}/negotiate`, { headers: { accept: 'application/json' } });
    assert.deepEqual(json.json, { status: 'ok' });
    const xml = await get(`${gw.url}/negotiate/user`, { headers: { accept: 'application/xml' } });
    assert.equal(xml.headers.get('content-type'), 'application/xml');
    assert.equal(xml.text, '<user id="7"><name>Alice</name></user>');
  });

  test("lura render_test.go TestRender_Negotiated_noData: {} in YAML and JSON, krakend-xml's <doc/>", async () => {
    assert.equal(
      (await get(`${gw.url}/negotiate/empty`, { headers: { accept: 'text/plain' } })).text,
      '{}\n',
    );
    assert.equal(
      (await get(`${gw.url}/negotiate/empty`, { headers: { accept: 'application/json' } })).text,
      '{}',
    );
    assert.equal(
      (await get(`${gw.url}/negotiate/empty`, { headers: { accept: 'application/xml' } })).text,
      '<doc/>',
    );
  });

  test("gin NegotiateFormat over lura's offers: application/x-yaml is YAML, application/yaml is none of them (JSON)", async () => {
    const x = await get(`${gw.url}/negotiate`, { headers: { accept: 'application/x-yaml' } });
    assert.equal(x.headers.get('content-type'), 'application/yaml; charset=utf-8');
    assert.equal(x.text, 'status: ok\n');
    const y = await get(`${gw.url}/negotiate`, { headers: { accept: 'application/yaml' } });
    assert.equal(y.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  test('gin NegotiateFormat: entries in the order written, q ignored, * matches the rest of an offer', async () => {
    const ordered = await get(`${gw.url}/negotiate`, {
      headers: { accept: 'application/xml;q=0.1, application/json' },
    });
    assert.equal(ordered.text, '<status>ok</status>');
    const textStar = await get(`${gw.url}/negotiate`, { headers: { accept: 'text/*' } });
    assert.equal(textStar.text, 'status: ok\n');
    const any = await get(`${gw.url}/negotiate`, { headers: { accept: '*/*' } });
    assert.deepEqual(any.json, { status: 'ok' });
  });
});
