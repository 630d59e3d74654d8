// Flexible Configuration: the Go text/template engine (cases rewritten from Go's
// src/text/template/exec_test.go and parse/parse_test.go, cited per test), sprig's functions as
// krakend-flexibleconfig registers them (template.go: sprig.GenericFuncMap + marshal + include),
// and the FC_* variables end to end through the real `gw check`, `gw run` and `gw health`
// (krakend-ce cmd/krakend-ce/main.go enables it for any non-empty FC_ENABLE).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Executor } from '../dist/config/flexible/exec.js';
import { makeFuncs, whyNotDefined } from '../dist/config/flexible/funcs.js';
import { parseTemplates } from '../dist/config/flexible/parse.js';
import { ConfigLoadError, loadConfigFileWithSources } from '../dist/config/index.js';
import { get, jsonBackend, runGw, startGateway } from './helpers/gateway.mjs';

const FIXTURES = new URL('./fixtures/flexible/', import.meta.url).pathname;
const CATALOG = join(FIXTURES, 'catalog');
const PLAYGROUND = join(FIXTURES, 'playground');

/** Renders `src` as template "t" (plus `extra` named templates) with `data`. */
function render(src, data = {}, { env = {}, partials = '', extra = {} } = {}) {
  const funcs = makeFuncs({ env, partials, onInclude() {} });
  const set = new Map();
  for (const [name, text] of [['t', src], ...Object.entries(extra)])
    for (const t of parseTemplates(`${name}.tmpl`, name, text, (n) => funcs.has(n), whyNotDefined))
      set.set(t.name, t);
  return new Executor(set, funcs).execute('t', data);
}

function renderError(src, data = {}, opts = {}) {
  try {
    render(src, data, opts);
  } catch (err) {
    return err.message;
  }
  assert.fail(`${JSON.stringify(src)} rendered without error`);
}

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'gw-fc-'));
}

// Settings as KrakenD decodes them: encoding/json into map[string]interface{}, numbers float64.
const DATA = {
  svc: { port: 8080, big: 1000000, ratio: 0.5, name: 'cat<&>', on: true, off: false, none: null },
  list: ['a', 'b', 'c'],
  msi: { one: 1, two: 2, three: 3 },
  empty: [],
};

test('fields, maps and missing keys print as Go prints them (exec_test.go: "map .one", "map .WRONG args", "nil")', () => {
  assert.equal(render('{{.msi.one}}-{{.msi.nope}}-{{.nope.deeper}}', DATA), '1-<no value>-<no value>');
  assert.equal(render('{{.msi}}', DATA), 'map[one:1 three:3 two:2]');
  assert.equal(render('{{.list}} {{.empty}}', DATA), '[a b c] []');
  // float64 prints with %v: exponent form from 1e+06 (a classic surprise in configs).
  assert.equal(render('{{.svc.port}} {{.svc.big}} {{.svc.ratio}}', DATA), '8080 1e+06 0.5');
  assert.equal(render('{{.svc.none}}', DATA), '<no value>');
  assert.match(
    renderError('{{.svc.name.x}}', DATA),
    /t\.tmpl:1:3: executing "t" at <\.svc\.name\.x>: can't evaluate field x in type string/,
  );
  assert.match(renderError('{{.svc.none.x}}', DATA), /nil pointer evaluating interface \{\}\.x/);
});

test('literals: ints, floats, chars, strings (parse_test.go numberTests, exec_test.go "ideal ...")', () => {
  assert.equal(
    render("{{1000000}} {{1e3}} {{1.5}} {{0x10}} {{1_000}} {{-3}} {{'a'}}"),
    '1000000 1000 1.5 16 1000 -3 97',
  );
  assert.equal(render('{{"a\\tb\\u00e9"}}|{{`raw\\n`}}'), 'a\tbé|raw\\n');
  assert.equal(render('{{printf "%T %T %T" 1 1.0 "s"}}'), 'int float64 string');
  assert.match(renderError('{{3x}}'), /bad number syntax/);
});

test('trim markers and comments (parse_test.go "trim left/right", "comment trim left and right")', () => {
  assert.equal(render('x \r\n\t{{- 3 -}} \n\t y'), 'x3y');
  assert.equal(render('x {{- /* hi */ -}} y'), 'xy');
  assert.equal(render('a{{/* a\nmultiline comment */}}b'), 'ab');
  assert.equal(render('{{-3}}'), '-3');
  assert.match(renderError('{{/* unclosed'), /t\.tmpl:1:1: unclosed comment/);
  assert.match(renderError('{{ /* c */ }}'), /unrecognized character in action/);
});

test('if / else if / else, with / else with, and truth (exec_test.go "if", "with", "else if")', () => {
  assert.equal(render('{{if .svc.on}}y{{else}}n{{end}}{{if .empty}}y{{else}}n{{end}}', DATA), 'yn');
  assert.equal(render('{{if .nope}}1{{else if .svc.off}}2{{else if .svc.port}}3{{else}}4{{end}}', DATA), '3');
  assert.equal(render('{{with .msi.two}}{{.}}{{end}}|{{with .nope}}x{{else}}none{{end}}', DATA), '2|none');
  assert.equal(render('{{with .nope}}a{{else with .msi}}{{.one}}{{end}}', DATA), '1');
  assert.equal(render('{{if 0}}t{{else}}f{{end}}{{if ""}}t{{else}}f{{end}}{{if "0"}}t{{end}}'), 'fft');
});

test('range: slices, maps in key order, variables, else, break/continue, ints (exec_test.go "range ...")', () => {
  assert.equal(render('{{range .list}}-{{.}}{{end}}', DATA), '-a-b-c');
  // Maps iterate in sorted key order.
  assert.equal(render('{{range $k, $v := .msi}}{{$k}}={{$v}};{{end}}', DATA), 'one=1;three=3;two=2;');
  assert.equal(render('{{range $i, $e := .list}}{{if $i}},{{end}}{{$i}}:{{$e}}{{end}}', DATA), '0:a,1:b,2:c');
  assert.equal(render('{{range $e := .list}}{{$e}}{{end}}', DATA), 'abc');
  assert.equal(
    render('{{range .empty}}x{{else}}empty{{end}}|{{range .nope}}x{{else}}nil{{end}}', DATA),
    'empty|nil',
  );
  assert.equal(render('{{range .list}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', DATA), 'a');
  assert.equal(render('{{range .list}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', DATA), 'ac');
  assert.equal(render('{{range 3}}{{.}}{{end}}'), '012');
  assert.equal(render('{{range .list}}{{$.msi.one}}{{end}}', DATA), '111');
  assert.match(renderError('{{range .svc.ratio}}{{end}}', DATA), /range can't iterate over 0\.5/);
  assert.match(renderError('{{break}}'), /\{\{break\}\} outside \{\{range\}\}/);
});

test('variables: declare, assign across if, scope ends with the block (exec_test.go "$x := ...", "assignment")', () => {
  assert.equal(render('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
  assert.equal(render('{{$x := "outer"}}{{with 3}}{{$x := .}}{{$x}}{{end}} {{$x}}'), '3 outer');
  assert.equal(render('{{$}}', 'root'), 'root');
  assert.match(renderError('{{if true}}{{$y := 1}}{{end}}{{$y}}'), /t\.tmpl:1:32: undefined variable "\$y"/);
  assert.match(renderError('{{$z = 1}}'), /undefined variable "\$z"/);
});

test('pipelines, parentheses and chained fields (exec_test.go "pipeline", "parens: ...", "chained")', () => {
  assert.equal(render('{{"x" | printf "%s-%s" "y"}}'), 'y-x');
  assert.equal(render('{{.svc.name | len}}', DATA), '6');
  assert.equal(render('{{(dict "a" (dict "b" 7)).a.b}}'), '7');
  assert.equal(render('{{printf "%d" (len .list)}}', DATA), '3');
  assert.match(renderError('{{"x" | 3}}'), /non executable command in pipeline stage 2/);
  assert.match(renderError('{{.svc.port 1}}', DATA), /port is not a method but has arguments/);
  assert.match(renderError('{{"x" 1}}'), /can't give argument to non-function "x"/);
  assert.match(renderError('{{nil}}'), /nil is not a command/);
  // parse.go's maxStackDepth: nesting is bounded, so no input exhausts the stack.
  assert.equal(render(`{{${'('.repeat(500)}1${')'.repeat(500)}}}`), '1');
  assert.match(
    renderError(`{{${'('.repeat(5000)}1${')'.repeat(5000)}}}`),
    /t\.tmpl:1:1003: max expression depth exceeded/,
  );
  assert.match(
    renderError(`${'{{if 1}}'.repeat(5000)}${'{{end}}'.repeat(5000)}`),
    /max expression depth exceeded/,
  );
});

test('define, template and block; unknown templates and runaway recursion (exec_test.go "template", "block")', () => {
  assert.equal(render('{{define "x"}}[{{.}}]{{end}}{{template "x" 5}}{{template "x"}}'), '[5][<no value>]');
  assert.equal(render('{{block "b" .}}default {{.}}{{end}}', 'dot'), 'default dot');
  assert.equal(render('{{template "other" .msi}}', DATA, { extra: { other: '{{.one}}' } }), '1');
  assert.match(renderError('{{template "nope" .}}'), /template "nope" not defined/);
  assert.match(
    renderError('{{define "r"}}{{template "r"}}{{end}}{{template "r"}}'),
    /exceeded maximum template depth/,
  );
  assert.match(
    renderError('{{if true}}{{define "x"}}{{end}}{{end}}'),
    /define is allowed only at the top level/,
  );
});

test("builtins: and/or short-circuit, not, eq/ne/lt with Go's type rules (funcs.go, exec_test.go cmpTests)", () => {
  assert.equal(render('{{and 1 0 "x"}} {{and 1 "x"}} {{or 0 "" "z"}} {{or 0 ""}} {{not 0}}'), '0 x z  true');
  // and/or stop at the deciding operand: `fail` is never called.
  assert.equal(render('{{or "ok" (fail "not evaluated")}} {{and "" (fail "not evaluated")}}'), 'ok ');
  assert.equal(
    render('{{eq 3 4 5 6 3}} {{eq "a" "b"}} {{ne 1 2}} {{lt "a" "b"}} {{ge 2 2}} {{gt 1.5 0.5}}'),
    'true false true true true true',
  );
  assert.equal(render('{{eq .nope "x"}} {{eq .svc.name "cat<&>"}}', DATA), 'false true');
  // A settings number is float64 and a literal 8080 is int: Go refuses to compare them.
  assert.match(
    renderError('{{eq .svc.port 8080}}', DATA),
    /error calling eq: incompatible types for comparison/,
  );
  assert.equal(render('{{eq .svc.port 8080.0}}', DATA), 'true');
  assert.match(renderError('{{lt true false}}'), /invalid type for comparison/);
});

test('builtins: len, index, print*, html, js, urlquery (exec_test.go "index", "html", "js", "urlquery", "print")', () => {
  assert.equal(render('{{len .list}} {{len "héllo"}} {{len .msi}}', DATA), '3 6 3');
  assert.equal(
    render('{{index .list 1}} {{index .msi "two"}} {{index .msi "nope"}}', DATA),
    'b 2 <no value>',
  );
  assert.match(renderError('{{index .list 5}}', DATA), /error calling index: index out of range: 5/);
  assert.match(renderError('{{len 3}}'), /error calling len: len of type int/);
  assert.match(renderError('{{len 1 2}}'), /wrong number of args for len: want 1 got 2/);
  assert.equal(render('{{print 1 2 "a" 3 "b"}}|{{println 1 "a"}}|{{print nil}}'), '1 2a3b|1 a\n|<nil>');
  assert.equal(
    render('{{printf "%s %d %v %q %t %5.2f|%-4s|%04d" "s" 42 .svc.big "q\\"" true 3.14159 "ab" 7}}', DATA),
    's 42 1e+06 "q\\"" true  3.14|ab  |0007',
  );
  assert.equal(render('{{printf "%d %s" .svc.port 1}}', DATA), '%!d(float64=8080) %!s(int=1)');
  assert.equal(
    render('{{html "<script>alert(\\"XSS\\");</script>"}}'),
    '&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;',
  );
  assert.equal(render('{{js "It\'d be <nice>."}}'), "It\\'d be \\x3Cnice\\x3E.");
  assert.equal(
    render('{{"http://www.example.org/"|urlquery}} {{urlquery "a b"}}'),
    'http%3A%2F%2Fwww.example.org%2F a+b',
  );
});

test('marshal and sprig JSON functions encode as Go json.Marshal: sorted keys, <>& escaped, no spaces', () => {
  assert.equal(
    render('{{marshal .svc}}', DATA),
    '{"big":1000000,"name":"cat\\u003c\\u0026\\u003e","none":null,"off":false,"on":true,"port":8080,"ratio":0.5}',
  );
  assert.equal(
    render('{{toJson .list}} {{toRawJson .svc.name}} {{marshal 1}}', DATA),
    '["a","b","c"] "cat<&>" 1',
  );
  assert.equal(render('{{toPrettyJson .msi}}', DATA), '{\n  "one": 1,\n  "three": 3,\n  "two": 2\n}');
  assert.equal(render('{{. | marshal}}', { b: [], a: {} }), '{"a":{},"b":[]}');
});

test('sprig functions that configurations use (Masterminds/sprig functions.go)', () => {
  const env = { HOST: 'api.local', EMPTY: '' };
  const cases = [
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: os.ExpandEnv's ${VAR}, not JavaScript's
      '{{env "HOST"}}|{{env "UNSET"}}|{{expandenv "https://${HOST}/$HOST"}}',
      'api.local||https://api.local/api.local',
    ],
    [
      '{{default "d" .nope}} {{default "d" ""}} {{default "d" "v"}} {{env "EMPTY" | default "fallback"}}',
      'd d v fallback',
    ],
    [
      '{{empty .empty}} {{empty "x"}} {{coalesce .nope "" "c"}} {{ternary "yes" "no" true}}',
      'true false c yes',
    ],
    [
      '{{upper "ab"}} {{lower "AB"}} {{title "hello world"}} {{trim "  x  "}} {{trimPrefix "v" "v1"}} {{trimSuffix ".json" "a.json"}}',
      'AB ab Hello World x 1 a',
    ],
    [
      '{{replace "-" "_" "a-b-c"}} {{contains "b" "abc"}} {{hasPrefix "ab" "abc"}} {{hasSuffix "bc" "abc"}} {{repeat 3 "x"}}',
      'a_b_c true true true xxx',
    ],
    [
      '{{split "," "a,b"}} {{splitList "," "a,b" | join "+"}} {{join "," .list}} {{quote "q" 1}} {{squote "s"}}',
      'map[_0:a _1:b] a+b a,b,c "q" "1" \'s\'',
    ],
    [
      '{{b64enc "user:pass"}} {{b64dec "dXNlcjpwYXNz"}} {{sha256sum "x" | trunc 8}}',
      'dXNlcjpwYXNz user:pass 2d711642',
    ],
    [
      '{{add 2 1}} {{sub 10 .svc.port}} {{mul 2 3 4}} {{div 7 2}} {{mod 7 2}} {{add1 .svc.port}} {{max 1 5 3}} {{addf 1.5 1}}',
      '3 -8070 24 3 1 8081 5 2.5',
    ],
    [
      '{{atoi "42"}} {{int "7"}} {{toString 3}} {{float64 "1.5"}} {{until 3}} {{len (list 1 2)}}',
      '42 7 3 1.5 [0 1 2] 2',
    ],
    [
      '{{list 1 "a" | toJson}} {{first .list}} {{last .list}} {{rest .list}} {{has "b" .list}} {{uniq (list 1 1 2)}} {{reverse .list}}',
      '[1,"a"] a c [b c] true [1 2] [c b a]',
    ],
    [
      '{{$d := dict "b" 2 "a" 1}}{{toJson $d}} {{get $d "a"}} {{hasKey $d "c"}} {{keys $d}} {{set $d "c" 3 | toJson}} {{pick $d "a" | toJson}} {{omit $d "a" | toJson}}',
      '{"a":1,"b":2} 1 false [a b] {"a":1,"b":2,"c":3} {"a":1} {"b":2,"c":3}',
    ],
    [
      '{{merge (dict "a" 1) (dict "a" 2 "b" 3) | toJson}} {{dig "x" "y" "none" (dict "x" (dict "y" "found"))}}',
      '{"a":1,"b":3} found',
    ],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's regexp ${1}, not JavaScript's
      '{{regexMatch "^v[0-9]+$" "v12"}} {{regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"}} {{base "/a/b.json"}} {{ext "b.json"}} {{dir "/a/b"}}',
      'true -W-xxW- b.json .json /a',
    ],
    [
      '{{typeOf .svc.port}} {{typeOf 1}} {{kindOf .list}} {{kindIs "map" .msi}} {{indent 2 "a\\nb"}}',
      'float64 int slice true   a\n  b',
    ],
    [
      '{{fromJson "{\\"a\\":[1,2]}" | toJson}} {{deepCopy .msi | toJson}}',
      '{"a":[1,2]} {"one":1,"three":3,"two":2}',
    ],
  ];
  for (const [src, want] of cases) assert.equal(render(src, DATA, { env }), want, src);
  assert.match(renderError('{{fail "stop here"}}'), /error calling fail: stop here/);
  assert.match(
    renderError('{{upper .svc.port}}', DATA),
    /wrong type for value; expected string; got float64/,
  );
  assert.match(renderError('{{upper .nope}}', DATA), /invalid value; expected string/);
  assert.match(renderError('{{now}}'), /function "now" not defined: a sprig function gw does not provide/);
  assert.match(renderError('{{nosuch 1}}'), /t\.tmpl:1:3: function "nosuch" not defined$/);
});

test('include pastes a partial as it is, never templated (krakend-flexibleconfig template.go include)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'raw.txt'), 'kept {{ .as_is }}');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'b64.json'), '{"a":1}');
  assert.equal(render('[{{include "raw.txt"}}]', {}, { partials: dir }), '[kept {{ .as_is }}]');
  // The docs' "Inserting an external file as base64" template.
  assert.equal(
    render(
      '"{{template "b64" "sub/b64.json"}}"',
      {},
      {
        partials: dir,
        extra: { b64: '{{- $raw := include . -}}\n{{- $raw | b64enc -}}' },
      },
    ),
    `"${Buffer.from('{"a":1}').toString('base64')}"`,
  );
  assert.match(
    renderError('{{include "nope.txt"}}', {}, { partials: dir }),
    /error calling include: cannot read partial .*nope\.txt: no such file/,
  );
});

// ---- FC_* end to end ----

function catalogEnv(settings, extra = {}) {
  return {
    FC_ENABLE: '1',
    FC_SETTINGS: join(CATALOG, 'config', 'settings', settings),
    FC_PARTIALS: join(CATALOG, 'config', 'partials'),
    FC_TEMPLATES: join(CATALOG, 'config', 'templates'),
    CATALOG_BACKEND: 'http://127.0.0.1:9',
    ...extra,
  };
}

test('gw check renders the examples-shaped catalog template per settings folder; FC_OUT holds the result', async () => {
  const dir = tempDir();
  const prodOut = join(dir, 'prod.json');
  const prod = await runGw(['check', '-c', join(CATALOG, 'krakend.tmpl')], {
    env: catalogEnv('prod', { FC_OUT: prodOut }),
  });
  assert.equal(prod.code, 0, prod.stderr);
  assert.match(prod.stdout, /Syntax OK!/);
  const p = JSON.parse(readFileSync(prodOut, 'utf8'));
  assert.equal(p.name, 'catalog (production)');
  assert.equal(p.timeout, '3s');
  assert.deepEqual(p.extra_config, { router: { return_error_msg: true } });
  assert.deepEqual(
    p.endpoints.map((e) => e.endpoint),
    ['/products', '/products/{id}', '/status', '/categories'],
  );
  assert.deepEqual(p.endpoints[0].backend[0].allow, ['id', 'name']);
  assert.equal(p.endpoints[1].method, 'GET');
  assert.deepEqual(p.endpoints[0].backend[0].extra_config['qos/ratelimit/proxy'], {
    max_rate: 100,
    capacity: 100,
    every: '1s',
  });

  const devOut = join(dir, 'dev.json');
  const dev = await runGw(['check', '-c', join(CATALOG, 'krakend.tmpl')], {
    env: catalogEnv('dev', { FC_OUT: devOut, CATALOG_NAME: 'shop' }),
  });
  assert.equal(dev.code, 0, dev.stderr);
  const d = JSON.parse(readFileSync(devOut, 'utf8'));
  assert.equal(d.name, 'shop (development)');
  assert.equal(d.timeout, '10s');
  assert.equal(d.endpoints.length, 3);
});

test('gw check renders the playground-shaped template (include, template, range with $idx, $)', async () => {
  const out = join(tempDir(), 'out.json');
  const r = await runGw(['check', '-c', join(PLAYGROUND, 'krakend-flexible-config.tmpl')], {
    env: {
      FC_ENABLE: '1',
      FC_SETTINGS: join(PLAYGROUND, 'settings'),
      FC_PARTIALS: join(PLAYGROUND, 'partials'),
      FC_TEMPLATES: join(PLAYGROUND, 'templates'),
      FC_OUT: out,
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(
    c.endpoints.map((e) => e.endpoint),
    ['/sample/5', '/loop/one', '/loop/two', '/loop/three'],
  );
  assert.equal(c.endpoints[0].backend[0].host[0], 'http://127.0.0.1:8080');
  assert.equal(c.extra_config['telemetry/logging'].prefix, '[PLAYGROUND]');
});

test('gw run serves the templated catalog through a real backend, and gw health finds it through the template', async () => {
  const backend = await jsonBackend({
    '/inventory/products': { id: 1, name: 'lamp', secret: 'x' },
    '/inventory/products/7': { id: 7, name: 'desk' },
    '/inventory/categories': [{ id: 'lights' }],
    '/inventory/health': { ok: true },
  });
  const env = catalogEnv('prod', { CATALOG_BACKEND: backend.url });
  const gw = await startGateway(null, { file: join(CATALOG, 'krakend.tmpl'), env });
  try {
    assert.deepEqual((await get(`${gw.url}/products`)).json, { id: 1, name: 'lamp' });
    assert.deepEqual((await get(`${gw.url}/products/7`)).json, { id: 7, name: 'desk' });
    assert.deepEqual((await get(`${gw.url}/categories`)).json, { categories: [{ id: 'lights' }] });
    assert.deepEqual((await get(`${gw.url}/status`)).json, { inventory: { ok: true } });
    const health = await runGw(['health', '-c', join(CATALOG, 'krakend.tmpl'), '-p', String(gw.port)], {
      env,
    });
    assert.equal(health.code, 0, health.stdout + health.stderr);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('bad templates and settings: gw check says file:line:col and what, exit 1', async () => {
  const dir = tempDir();
  const settings = join(dir, 'settings');
  mkdirSync(settings);
  writeFileSync(join(settings, 'svc.json'), '{"port": 8080}');
  const cases = [
    ['unclosed.tmpl', '{\n  "version": 3,\n  "port": {{ .svc.port\n', /unclosed\.tmpl:3:11: unclosed action/],
    [
      'unknown.tmpl',
      '{\n  "version": 3,\n  "name": "{{ now | date "2006" }}"\n}\n',
      /unknown\.tmpl:3:15: function "now" not defined: a sprig function gw does not provide/,
    ],
    [
      'field.tmpl',
      '{\n  "version": 3,\n  "port": {{ .svc.port.x }}\n}\n',
      /field\.tmpl:3:14: executing "field\.tmpl" at <\.svc\.port\.x>: can't evaluate field x in type float64/,
    ],
    ['end.tmpl', '{"version": 3}{{ end }}', /end\.tmpl:1:18: unexpected \{\{end\}\}/],
    [
      'noend.tmpl',
      '{{ if true }}{"version": 3}',
      /noend\.tmpl:1:4: unexpected EOF: \{\{if\}\} has no \{\{end\}\}/,
    ],
    [
      'partial.tmpl',
      '{"version": 3, "x": {{ include "nope.json" }}}',
      /partial\.tmpl:1:24: executing "partial\.tmpl" at <include>: error calling include: cannot read partial/,
    ],
    [
      'sub.tmpl',
      '{"version": {{ template "nope.tmpl" . }}}',
      /sub\.tmpl:1:16: executing "sub\.tmpl" at <\{\{template "nope\.tmpl"\}\}>: template "nope\.tmpl" not defined/,
    ],
    [
      'comma.tmpl',
      '{\n  "version": 3,\n  "endpoints": [\n    {{ range .svc.list }}{{ end }}{"endpoint": "/a", "backend": [{"host": ["http://x"], "url_pattern": "/a"}]},\n  ]\n}\n',
      /comma\.tmpl \(rendered\):5:3: invalid JSON: trailing comma before "\]"\n {2}line 5: \]\n {2}\(set FC_OUT=out\.json to write the rendered text/,
    ],
  ];
  for (const [name, text, want] of cases) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = await runGw(['check', '-c', file], { env: { FC_ENABLE: '1', FC_SETTINGS: settings } });
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, name);
  }
  // Settings that do not parse, a folder that is not there: every problem, before rendering.
  writeFileSync(join(settings, 'broken.json'), '{\n  "a": 1,\n}');
  writeFileSync(join(settings, 'list.json'), '[1]');
  const file = join(dir, 'ok.tmpl');
  writeFileSync(file, '{"version": 3}');
  const r = await runGw(['check', '-c', file], {
    env: { FC_ENABLE: '1', FC_SETTINGS: settings, FC_TEMPLATES: join(dir, 'none') },
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /settings\/broken\.json:3:1: invalid JSON: trailing comma before "\}"/);
  assert.match(r.stderr, /settings\/list\.json: a settings file must hold a JSON object, found an array/);
  assert.match(r.stderr, /none: no such folder/);
  // gw run refuses the same way.
  const run = await runGw(['run', '-c', join(dir, 'field.tmpl')], {
    env: { FC_ENABLE: '1', FC_SETTINGS: join(dir, 'nowhere') },
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /flexible configuration: .*nowhere: no such folder/);
});

test('FC_ENABLE: any non-empty value enables it (even 0); unset, a template is JSON with a hint', async () => {
  const dir = tempDir();
  const file = join(dir, 'krakend.tmpl');
  writeFileSync(file, '{"version": {{ add 2 1 }}}');
  const zero = await runGw(['check', '-c', file], { env: { FC_ENABLE: '0' } });
  assert.equal(zero.code, 0, zero.stderr);
  const off = await runGw(['check', '-c', file], { env: { FC_ENABLE: '' } });
  assert.equal(off.code, 1);
  assert.match(
    off.stderr,
    /krakend\.tmpl:1:14: invalid JSON: .*\(a Flexible Configuration template\? set FC_ENABLE=1\)/,
  );
});

test('FC_OUT decides the format the rendered text is read in (a YAML template with FC_OUT=out.yaml)', async () => {
  const dir = tempDir();
  const file = join(dir, 'krakend.tmpl');
  writeFileSync(
    file,
    'version: 3\nendpoints:\n{{- range .e.paths }}\n  - endpoint: {{ . }}\n    backend: [{host: ["http://127.0.0.1:9"], url_pattern: {{ . }}}]\n{{- end }}\n',
  );
  mkdirSync(join(dir, 's'));
  writeFileSync(join(dir, 's', 'e.json'), '{"paths": ["/a", "/b"]}');
  const out = join(dir, 'out.yaml');
  const r = await runGw(['check', '-d', '-c', file], {
    env: { FC_ENABLE: '1', FC_SETTINGS: join(dir, 's'), FC_OUT: out },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), /- endpoint: \/b/);
});

test('loadConfigFileWithSources lists the files and folders a Flexible Configuration load read', () => {
  const env = catalogEnv('prod');
  const { config, sources } = loadConfigFileWithSources(join(CATALOG, 'krakend.tmpl'), env);
  assert.equal(config.endpoints.length, 4);
  const rel = (p) => p.slice(resolve(CATALOG).length + 1);
  assert.deepEqual(sources.files.map(rel).sort(), [
    'config/partials/rate_limit_backend.json',
    'config/settings/prod/endpoints.json',
    'config/settings/prod/service.json',
    'config/templates/endpoints.tmpl',
    'config/templates/status.tmpl',
    'krakend.tmpl',
  ]);
  assert.deepEqual(sources.dirs.map(rel), ['config/settings/prod', 'config/templates', 'config/partials']);
  // Without FC_ENABLE the file alone.
  const plain = join(tempDir(), 'krakend.json');
  writeFileSync(plain, '{"version": 3}');
  assert.deepEqual(loadConfigFileWithSources(plain, {}).sources, { files: [plain], dirs: [] });
  assert.throws(
    () => loadConfigFileWithSources(join(CATALOG, 'krakend.tmpl'), { FC_ENABLE: '1' }),
    ConfigLoadError,
  );
});
