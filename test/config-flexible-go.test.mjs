// Differential check of gw's Flexible Configuration engine against Go itself: each case is
// rendered by Go's text/template with sprig.GenericFuncMap + marshal (what
// krakend-flexibleconfig's template.go registers; Debian's golang-github-masterminds-sprig-dev is
// sprig 3.2.3, the version krakend-ce pins) and by gw. Outputs must be equal byte for byte; where
// Go fails, gw must fail too. Needs `go` and that package (.ci/run installs them).

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Executor } from '../dist/config/flexible/exec.js';
import { makeFuncs } from '../dist/config/flexible/funcs.js';
import { renderFlexibleConfig } from '../dist/config/flexible/index.js';
import { parseTemplates } from '../dist/config/flexible/parse.js';

const GO_RENDER = new URL('./fixtures/flexible/go-render/main.go', import.meta.url).pathname;
const GOPATH = '/usr/share/gocode';

function goAvailable() {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return (
    r.status === 0 && spawnSync('test', ['-d', `${GOPATH}/src/github.com/Masterminds/sprig`]).status === 0
  );
}

const DATA = {
  svc: {
    port: 8080,
    big: 1000000,
    small: 0.00001,
    ratio: 0.5,
    neg: -2.5,
    name: 'cat<&>"\'',
    on: true,
    off: false,
    none: null,
  },
  list: ['a', 'b', 'c'],
  nums: [3, 1, 2],
  msi: { one: 1, two: 2, three: 3 },
  nested: { a: { b: { c: 'deep' } }, arr: [{ k: 'v0' }, { k: 'v1' }] },
  empty: [],
  emptyMap: {},
  text: 'Hello, World',
  unicode: 'héllo ✓ \u2028',
};

// Go 1.19 (Debian's) lacks range over an int and {{else with}}: those are in config-flexible.test.mjs.
const CASES = [
  // printing values
  '{{.svc.port}} {{.svc.big}} {{.svc.small}} {{.svc.ratio}} {{.svc.neg}} {{.svc.none}} {{.nope}} {{.nope.deeper}}',
  '{{.msi}} {{.list}} {{.empty}} {{.emptyMap}} {{.nested}} {{.svc}}',
  "{{1000000}} {{1e3}} {{1.5}} {{0x10}} {{1_000}} {{-3}} {{'a'}} {{1e21}} {{123456789.0}} {{0.0001}}",
  '{{"a\\tb\\u00e9\\x41"}}|{{`raw\\n`}}|{{true}}|{{false}}',
  '{{.unicode}} {{printf "%q" .unicode}} {{printf "%q" .svc.name}}',
  // trimming and comments
  'x \r\n\t{{- 3 -}} \n\t y|{{- /* c */ -}} |a{{/* m\nl */}}b|{{-3}}',
  '  {{- if true -}}  \n yes \n {{- end -}}  \n',
  // control flow
  '{{if .svc.on}}y{{else}}n{{end}}{{if .empty}}y{{else}}n{{end}}{{if .emptyMap}}y{{else}}n{{end}}{{if .svc.none}}y{{else}}n{{end}}',
  '{{if .nope}}1{{else if .svc.off}}2{{else if .svc.port}}3{{else}}4{{end}}',
  '{{with .msi.two}}{{.}}{{end}}|{{with .nope}}x{{else}}none{{end}}|{{with .nested.a}}{{.b.c}} {{$.text}}{{end}}',
  '{{range .list}}-{{.}}{{end}}|{{range $k, $v := .msi}}{{$k}}={{$v}};{{end}}|{{range $i, $e := .list}}{{if $i}},{{end}}{{$i}}:{{$e}}{{end}}',
  '{{range $e := .nums}}{{$e}}{{end}}|{{range .empty}}x{{else}}empty{{end}}|{{range .nope}}x{{else}}nil{{end}}|{{range .emptyMap}}x{{else}}em{{end}}',
  '{{range .list}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}|{{range .list}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}',
  '{{range .nested.arr}}{{.k}}{{end}} {{range $i, $x := .nested.arr}}{{$i}}{{$x.k}}{{end}}',
  '{{range .msi}}{{.}}{{end}} {{range $k, $v := .nested}}{{$k}} {{end}}',
  // variables
  '{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}|{{$y := "outer"}}{{with 3}}{{$y := .}}{{$y}}{{end}} {{$y}}',
  '{{$}}|{{$.msi.one}}|{{$a := .list}}{{index $a 2}}',
  // pipelines
  '{{"x" | printf "%s-%s" "y"}} {{.svc.name | len}} {{(dict "a" (dict "b" 7)).a.b}} {{printf "%d" (len .list)}}',
  '{{.text | lower | upper | printf "[%s]"}} {{ "a" | print "b" "c" }}',
  // define / template / block
  '{{define "x"}}[{{.}}]{{end}}{{template "x" 5}}{{template "x"}}{{template "x" .msi}}{{block "b" .text}}<{{.}}>{{end}}',
  // builtins
  '{{and 1 0 "x"}} {{and 1 "x"}} {{or 0 "" "z"}} {{or 0 ""}} {{not 0}} {{not .list}} {{and}}',
  '{{or "ok" (fail "never")}} {{and "" (fail "never")}}',
  '{{eq 3 4 5 6 3}} {{eq "a" "b"}} {{ne 1 2}} {{lt "a" "b"}} {{ge 2 2}} {{gt 1.5 0.5}} {{le 1 1}} {{eq .nope "x"}} {{eq .svc.port 8080.0}}',
  '{{eq .svc.port 8080}}',
  '{{lt true false}}',
  '{{eq .nope .svc.none}} {{ne .nope 1}}',
  '{{len .list}} {{len "héllo"}} {{len .msi}} {{index .list 1}} {{index .msi "two"}} {{index .msi "nope"}} {{index .nested "a" "b" "c"}}',
  '{{index .list 5}}',
  '{{len 3}}',
  '{{print 1 2 "a" 3 "b"}}|{{println 1 "a"}}|{{print nil}}|{{print .nope}}|{{print .svc.none 1}}|{{print .list .msi}}',
  '{{printf "%s %d %v %q %t %5.2f|%-4s|%04d|%x|%X|%o|%e|%g|%8.3e" "s" 42 .svc.big "q\\"" true 3.14159 "ab" 7 255 "hi" 8 1234.5678 0.000012 .svc.ratio}}',
  '{{printf "%d %s %t" .svc.port 1 "x"}}|{{printf "%d"}}|{{printf "%d" 1 2}}|{{printf "%v %+v" .msi .list}}|{{printf "%5s|%-5d|%+d" "ab" 3 4}}',
  '{{printf "%.2s" "abcdef"}} {{printf "%6.2f" .svc.neg}} {{printf "%v" .svc.none}} {{printf "%s" .list}} {{printf "%c" 65}} {{printf "%%"}}',
  '{{html "<script>alert(\\"XSS\\");</script>"}} {{html 1 "<"}} {{js "It\'d be \\"nice\\".\\n"}} {{"http://www.example.org/"|urlquery}} {{urlquery "a b" "c"}}',
  // marshal / JSON
  '{{marshal .svc}} {{marshal .nested}} {{marshal .empty}} {{marshal .emptyMap}} {{marshal .nope}} {{marshal 1}} {{marshal 1.5}} {{marshal "<a>"}}',
  '{{toJson .list}} {{toRawJson .svc.name}} {{toPrettyJson .msi}} {{toPrettyJson .empty}} {{toJson .unicode}}',
  '{{. | marshal}}',
  // sprig strings
  '{{upper "ab"}} {{lower "AB"}} {{title "hello world"}} {{untitle "Hello World"}} {{trim "  x  "}} {{trimPrefix "v" "v1"}} {{trimSuffix ".json" "a.json"}} {{trimAll "-" "--a--"}}',
  '{{replace "-" "_" "a-b-c"}} {{contains "b" "abc"}} {{hasPrefix "ab" "abc"}} {{hasSuffix "bc" "abc"}} {{repeat 3 "x"}} {{substr 1 3 "abcdef"}} {{trunc 3 "abcdef"}} {{trunc -2 "abcdef"}}',
  '{{split "," "a,b"}} {{splitList "," "a,b" | join "+"}} {{join "," .list}} {{join "-" .nums}} {{quote "q" 1 .nope}} {{squote "s" 2}} {{cat "a" 1 .nope "b"}}',
  '{{indent 2 "a\\nb"}}|{{nindent 2 "a"}}|{{nospace " a b "}}|{{abbrev 5 "hello world"}}|{{plural "one" "many" 2}}|{{initials "First Try"}}',
  '{{snakecase "HelloWorld"}} {{kebabcase "HelloWorld"}} {{camelcase "hello_world"}} {{wrap 5 "hello world again"}}',
  '{{b64enc "user:pass"}} {{b64dec "dXNlcjpwYXNz"}} {{b64dec "!!"}} {{sha256sum "x"}} {{sha1sum "x"}}',
  '{{b32enc "user:pass"}} {{b32dec "OVZWK4R2OBQXG4Y="}} {{b32enc ""}} {{b32enc "a"}} {{adler32sum "Wikipedia"}} {{regexMatch "(" "x"}} {{mustRegexFind "b+" "abbc"}}',
  '{{mustRegexMatch "(" "x"}}',
  '{{regexFind "(" "x"}}',
  // sprig conversions and math
  '{{add 2 1}} {{sub 10 .svc.port}} {{mul 2 3 4}} {{div 7 2}} {{mod 7 2}} {{add1 .svc.port}} {{max 1 5 3}} {{min 4 2 8}} {{add "3" 2}} {{add 1.9 1}}',
  '{{addf 1.5 1}} {{subf 5 1.5}} {{mulf 1.5 2}} {{divf 10 4}} {{maxf 1 2.5}} {{minf 1 2.5}} {{floor 1.5}} {{ceil 1.2}} {{round 2.555 2}} {{add1f 1}}',
  '{{atoi "42"}} {{atoi "x"}} {{int "7"}} {{int64 7.9}} {{toString 3}} {{toString .svc.big}} {{float64 "1.5"}} {{until 3}} {{untilStep 0 10 3}} {{len (list 1 2)}}',
  '{{typeOf .svc.port}} {{typeOf 1}} {{typeOf .list}} {{typeOf .msi}} {{typeOf "s"}} {{kindOf .list}} {{kindOf .msi}} {{kindIs "map" .msi}}',
  // sprig defaults
  '{{default "d" .nope}} {{default "d" ""}} {{default "d" "v"}} {{default "d" 0}} {{default "d" .empty}} {{default "d" .svc.off}} {{default 5 .svc.port}}',
  '{{empty .empty}} {{empty "x"}} {{empty .nope}} {{empty 0}} {{empty .emptyMap}} {{coalesce .nope "" "c"}} {{coalesce .nope ""}} {{ternary "yes" "no" true}} {{ternary "yes" "no" false}}',
  '{{all 1 "a"}} {{all 1 ""}} {{any 0 "" "x"}} {{any 0}}',
  // sprig lists and dicts
  '{{list 1 "a" | toJson}} {{first .list}} {{last .list}} {{rest .list}} {{initial .list}} {{has "b" .list}} {{uniq (list 1 1 2)}} {{reverse .list}} {{compact (list 1 "" 2)}} {{without .list "b"}}',
  '{{append .list "d"}} {{prepend .list "z"}} {{concat .list .nums}} {{sortAlpha (list "b" "a")}} {{slice .list 1}} {{slice .list 0 2}} {{chunk 2 .list}}',
  '{{$d := dict "b" 2 "a" 1}}{{toJson $d}} {{get $d "a"}} {{get $d "z"}} {{hasKey $d "c"}} {{keys $d | sortAlpha}} {{set $d "c" 3 | toJson}} {{pick $d "a" | toJson}} {{omit $d "a" | toJson}} {{unset $d "c" | toJson}}',
  '{{merge (dict "a" 1) (dict "a" 2 "b" 3) | toJson}} {{mergeOverwrite (dict "a" 1) (dict "a" 2 "b" 3) | toJson}} {{dig "x" "y" "none" (dict "x" (dict "y" "found"))}} {{dig "x" "z" "none" (dict "x" (dict "y" "found"))}}',
  '{{pluck "a" (dict "a" 1) (dict "b" 2) (dict "a" 3)}} {{values (dict "a" 1) | toJson}} {{dict "k" | toJson}} {{fromJson "{\\"a\\":[1,2]}" | toJson}} {{deepCopy .msi | toJson}}',
  // sprig regex, paths, env
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's regexp ${1}, not JavaScript's
  '{{regexMatch "^v[0-9]+$" "v12"}} {{regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"}} {{regexFind "[0-9]+" "ab12cd34"}} {{regexFindAll "[0-9]+" "ab12cd34" -1}} {{regexSplit "," "a,b,c" -1}}',
  '{{base "/a/b.json"}} {{ext "b.json"}} {{dir "/a/b"}} {{clean "/a/../b/"}} {{isAbs "/x"}} {{base ""}} {{dir "x"}}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: os.ExpandEnv's ${VAR}, not JavaScript's
  '{{env "GW_FC_TEST_HOST"}}|{{env "GW_FC_TEST_UNSET"}}|{{expandenv "https://${GW_FC_TEST_HOST}/$GW_FC_TEST_HOST"}}',
  // numbers at the edges of Go's formats
  '{{1e6}} {{-0.0}} {{printf "%v" 1e21}} {{marshal 1e21}} {{marshal 0.0000001}} {{toJson 1e-7}} {{marshal 123456789012}} {{.svc.big | printf "%.0f"}}',
  '{{printf "%.0f %.1f %.2f %.3f" 2.5 0.25 1.005 2.0005}} {{printf "%6.3g|%g|%G" 1234.5678 1e-7 1e21}} {{printf "%08.3f|%+.2e" -3.14159 12345.678}}',
  '{{printf "%s" .msi}} {{printf "%d" .nums}} {{print .svc.big 1}} {{.list | len}} {{join "," .msi}} {{toString .list}} {{quote .list}}',
  '{{range $k, $v := .nested.arr}}{{$k}}{{end}} {{index .list 0}} {{len .nested.arr}} {{with $x := .msi.one}}{{$x}}{{end}}',
  '{{$n := 0}}{{range .list}}{{$n = add $n 1}}{{end}}{{$n}}',
  '{{define "row"}}{{.k}}{{end}}{{range $i, $r := .nested.arr}}{{if $i}},{{end}}{{template "row" $r}}{{end}}',
  // errors Go reports (gw must fail too)
  '{{index .list 1.0}}',
  '{{printf}}',
  '{{.a |}}',
  '{{| .a}}',
  '{{.a | | len}}',
  '{{(1}}',
  '{{1)}}',
  '{{else}}',
  '{{define "x"}}',
  '{{range $i, $v, $w := .list}}{{end}}',
  '{{$x := 1 2}}',
  '{{with $x := .a}}{{end}}{{$x}}',
  '{{.svc.name.x}}',
  '{{.svc.none.x}}',
  '{{upper .svc.port}}',
  '{{upper .nope}}',
  '{{nosuch 1}}',
  '{{"x" | 3}}',
  '{{.svc.port 1}}',
  '{{"x" 1}}',
  '{{nil}}',
  '{{template "nope" .}}',
  '{{range .svc.ratio}}{{end}}',
  '{{break}}',
  '{{if true}}{{$y := 1}}{{end}}{{$y}}',
  '{{$z = 1}}',
  '{{fail "stop here"}}',
  '{{len 1 2}}',
  '{{if}}{{end}}',
  '{{end}}',
  '{{if true}}',
  '{{/* unclosed',
  '{{.a',
  '{{3x}}',
  '{{div 1 0}}',
  '{{first 1}}',
];

const SKIP = !goAvailable() && 'needs go and golang-github-masterminds-sprig-dev (.ci/run installs them)';
const GOCACHE = process.env.GOCACHE ?? join(mkdtempSync(join(tmpdir(), 'gw-gocache-')), 'cache');

/** Go's results for `cases` (see go-render/main.go). */
function goRender(cases, env) {
  const out = execFileSync('go', ['run', GO_RENDER], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    env: { ...process.env, ...env, GO111MODULE: 'off', GOPATH, GOCACHE, GOFLAGS: '' },
    timeout: 300_000,
  });
  return JSON.parse(out);
}

test('gw renders like Go text/template + sprig 3.2.3 (krakend-flexibleconfig template.go)', {
  skip: SKIP,
}, (t) => {
  const env = { GW_FC_TEST_HOST: 'api.local' };
  const want = goRender(
    CASES.map((src) => ({ src, data: DATA })),
    env,
  );
  const funcs = makeFuncs({ env, partials: '', onInclude() {} });
  const differences = [];
  CASES.forEach((src, i) => {
    let got;
    try {
      const set = new Map();
      for (const t of parseTemplates('t', 't', src, (n) => funcs.has(n))) set.set(t.name, t);
      got = { out: new Executor(set, funcs).execute('t', JSON.parse(JSON.stringify(DATA))) };
    } catch (err) {
      got = { err: err.message };
    }
    if (want[i].err !== undefined ? got.err === undefined : got.out !== want[i].out)
      differences.push(`${src}\n   go: ${JSON.stringify(want[i])}\n   gw: ${JSON.stringify(got)}`);
  });
  const refused = want.filter((w) => w.err !== undefined).length;
  t.diagnostic(`${CASES.length} cases (${refused} that Go refuses), ${differences.length} differ`);
  assert.equal(
    differences.length,
    0,
    `${differences.length} of ${CASES.length} cases differ:\n${differences.join('\n')}`,
  );
});

test('the examples- and playground-shaped fixtures render to the same bytes as Go renders them', {
  skip: SKIP,
}, () => {
  const fixtures = new URL('./fixtures/flexible/', import.meta.url).pathname;
  const catalog = join(fixtures, 'catalog');
  const playground = join(fixtures, 'playground');
  const runs = [
    {
      base: join(catalog, 'krakend.tmpl'),
      templates: join(catalog, 'config', 'templates'),
      templateFiles: ['endpoints.tmpl', 'status.tmpl'],
      settings: join(catalog, 'config', 'settings', 'prod'),
      partials: join(catalog, 'config', 'partials'),
    },
    {
      base: join(catalog, 'krakend.tmpl'),
      templates: join(catalog, 'config', 'templates'),
      templateFiles: ['endpoints.tmpl', 'status.tmpl'],
      settings: join(catalog, 'config', 'settings', 'dev'),
      partials: join(catalog, 'config', 'partials'),
    },
    {
      base: join(playground, 'krakend-flexible-config.tmpl'),
      templates: join(playground, 'templates'),
      templateFiles: ['sample_template.tmpl'],
      settings: join(playground, 'settings'),
      partials: join(playground, 'partials'),
    },
  ];
  const env = { CATALOG_BACKEND: 'http://127.0.0.1:9000', CATALOG_NAME: 'shop' };
  const want = goRender(
    runs.map((r) => ({
      files: [r.base, ...r.templateFiles.map((f) => join(r.templates, f))],
      settings: r.settings,
      partials: r.partials,
    })),
    env,
  );
  runs.forEach((r, i) => {
    const got = renderFlexibleConfig(r.base, {
      ...env,
      FC_ENABLE: '1',
      FC_SETTINGS: r.settings,
      FC_TEMPLATES: r.templates,
      FC_PARTIALS: r.partials,
    });
    assert.equal(want[i].err, undefined, want[i].err);
    assert.equal(got.text, want[i].out, `${r.base} with ${r.settings}`);
  });
});
