import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigLoadError, checkConfig, loadConfigFile } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const FIXTURES = new URL('./fixtures/config/', import.meta.url).pathname;
const fixture = (name) => join(FIXTURES, name);

function tempFile(name, text) {
  const file = join(mkdtempSync(join(tmpdir(), 'gw-config-')), name);
  writeFileSync(file, text);
  return file;
}

function loadError(file, env = {}) {
  try {
    loadConfigFile(file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigLoadError, `expected ConfigLoadError, got ${err}`);
    assert.ok(Array.isArray(err.issues) && err.issues.length > 0);
    return err;
  }
  assert.fail(`${file} loaded without error`);
}

test('JSON, YAML and TOML give the same shape', () => {
  const json = loadConfigFile(fixture('valid.json'), {});
  assert.equal(json.version, 3);
  assert.equal(json.endpoints.length, 4);
  assert.deepEqual(json.endpoints[0].backend[0].mapping, { name: 'full_name' });

  const yaml = loadConfigFile(fixture('valid.yaml'), {});
  const toml = loadConfigFile(fixture('valid.toml'), {});
  for (const c of [yaml, toml]) {
    assert.equal(c.version, 3);
    assert.equal(c.port, 8080);
    assert.equal(c.timeout, '3s');
    assert.deepEqual(c.endpoints, [
      {
        endpoint: '/hello/{name}',
        backend: [{ host: ['http://127.0.0.1:9000'], url_pattern: '/greet/{name}' }],
      },
    ]);
    assert.deepEqual(checkConfig(c), { errors: [], warnings: [] });
  }
  assert.equal(loadConfigFile(tempFile('krakend.yml', 'version: 3\nport: 9\n'), {}).port, 9);
});

test('a missing file is a ConfigLoadError naming the file', () => {
  const err = loadError('/nonexistent/dir/krakend.json');
  assert.equal(err.issues[0].path, '$');
  assert.match(
    err.issues[0].message,
    /cannot read configuration file \/nonexistent\/dir\/krakend\.json: no such file/,
  );
});

test('a JSON syntax error gives line and column', () => {
  const err = loadError(fixture('broken.json'));
  assert.match(err.issues[0].message, /broken\.json:4:23: invalid JSON: trailing comma before "\}"/);

  const cases = [
    ['{\n  "version": 3\n  "port": 8080\n}', /:3:3: invalid JSON: unexpected "\\"", expected "," or "\}"/],
    ['{"version": 3, "name": "abc}', /:1:24: invalid JSON: unterminated string/],
    ['{\n"a": [1, 2,]\n}', /:2:12: invalid JSON: trailing comma before "\]"/],
    ['{"a": tru}', /:1:7: invalid JSON: unexpected "t", expected a value/],
    ['{"a": 1} x', /:1:10: invalid JSON: unexpected "x" after the end of the JSON document/],
    ['{\n  // comment\n  "a": 1}', /:2:3: invalid JSON: comments are not allowed in JSON/],
    ['', /:1:1: invalid JSON: unexpected end of file, expected a value/],
    ['{"a": {', /:1:8: invalid JSON: unexpected end of file, expected a double-quoted property name/],
  ];
  for (const [text, re] of cases) {
    const e = loadError(tempFile('krakend.json', text));
    assert.match(e.issues[0].message, re, text);
  }
});

test('YAML and TOML syntax errors give line and column', () => {
  assert.match(loadError(fixture('broken.yaml')).issues[0].message, /broken\.yaml:4:1: invalid YAML: /);
  assert.match(
    loadError(fixture('broken.toml')).issues[0].message,
    /broken\.toml:2:8: invalid TOML: invalid value/,
  );
  assert.match(
    loadError(tempFile('krakend.yaml', 'version: 3\nport: 1\nport: 2\n')).issues[0].message,
    /krakend\.yaml:3:1: invalid YAML: Map keys must be unique/,
  );
});

test('a root that is not an object, and unsupported formats, are refused', () => {
  assert.match(
    loadError(tempFile('krakend.json', '[1, 2]')).issues[0].message,
    /must be an object .* found an array/,
  );
  assert.match(loadError(tempFile('krakend.yaml', '- a\n')).issues[0].message, /must be an object/);
  assert.match(
    loadError(tempFile('krakend.hcl', 'version = 3')).issues[0].message,
    /\.hcl format is not supported by gw/,
  );
});

test('a UTF-8 BOM is accepted', () => {
  assert.equal(loadConfigFile(tempFile('krakend.json', '\ufeff{"version": 3}'), {}).version, 3);
});

test('KRAKEND_* variables override root values present in the file, converted to their type', () => {
  const file = tempFile(
    'krakend.json',
    JSON.stringify({
      version: 3,
      name: 'from file',
      port: 8080,
      timeout: '3s',
      cache_ttl: '0s',
      read_timeout: '1s',
      debug_endpoint: false,
      endpoints: [],
    }),
  );
  const cfg = loadConfigFile(file, {
    KRAKEND_NAME: 'Build ABC0123',
    KRAKEND_PORT: '9000',
    KRAKEND_TIMEOUT: '500ms',
    KRAKEND_CACHE_TTL: '60s',
    KRAKEND_READ_TIMEOUT: '2s',
    KRAKEND_DEBUG_ENDPOINT: 'true',
    KRAKEND_ENDPOINTS: 'ignored: not a scalar',
    KRAKEND_VERSION: '2',
    KRAKEND_LISTEN_IP: '10.0.0.1',
    KRAKEND_USE_H2C: 'true',
  });
  assert.equal(cfg.name, 'Build ABC0123');
  assert.equal(cfg.port, 9000);
  assert.equal(typeof cfg.port, 'number');
  assert.equal(cfg.timeout, '500ms');
  assert.equal(cfg.cache_ttl, '60s');
  assert.equal(cfg.read_timeout, '2s');
  assert.equal(cfg.debug_endpoint, true);
  assert.deepEqual(cfg.endpoints, []);
  assert.equal(cfg.version, 3, 'the format version is not overridable');
  // Overrides only: keys absent from the file stay absent.
  assert.equal('listen_ip' in cfg, false);
  assert.equal('use_h2c' in cfg, false);
});

test('KRAKEND_* booleans follow Go ParseBool and bad values are load errors', () => {
  const file = tempFile('krakend.json', JSON.stringify({ version: 3, port: 8080, echo_endpoint: true }));
  assert.equal(loadConfigFile(file, { KRAKEND_ECHO_ENDPOINT: '0' }).echo_endpoint, false);
  assert.equal(loadConfigFile(file, { KRAKEND_ECHO_ENDPOINT: 'F' }).echo_endpoint, false);
  assert.equal(loadConfigFile(file, { KRAKEND_ECHO_ENDPOINT: 'TRUE' }).echo_endpoint, true);
  let err = loadError(file, { KRAKEND_PORT: 'eighty' });
  assert.deepEqual(err.issues, [{ path: '$.port', message: 'KRAKEND_PORT="eighty" is not an integer' }]);
  err = loadError(file, { KRAKEND_PORT: '80.5' });
  assert.equal(err.issues[0].path, '$.port');
  err = loadError(file, { KRAKEND_ECHO_ENDPOINT: 'yes' });
  assert.deepEqual(err.issues, [
    { path: '$.echo_endpoint', message: 'KRAKEND_ECHO_ENDPOINT="yes" is not a boolean (true or false)' },
  ]);
});

test('overrides apply to YAML and TOML too', () => {
  assert.equal(loadConfigFile(fixture('valid.yaml'), { KRAKEND_PORT: '7000' }).port, 7000);
  assert.equal(loadConfigFile(fixture('valid.toml'), { KRAKEND_NAME: 'x' }).name, 'x');
});
