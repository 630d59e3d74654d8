// telemetry/logging: Go layouts, go-logging patterns, gin's access log line, config checks, and
// through `gw run`: levels, prefix, formats, stdout off, disable_access_log, logger_skip_paths.
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';
import {
  compileGoTimeLayout,
  compilePattern,
  DEFAULT_PATTERN,
  ginLineFormatter,
  goDuration,
  LOGSTASH_PATTERN,
  patternIssues,
} from '../dist/telemetry/log-format.js';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const at = new Date(Date.UTC(2024, 2, 5, 14, 7, 9, 42)); // Tue 2024-03-05 14:07:09.042 UTC

test('Go time layouts', () => {
  assert.equal(compileGoTimeLayout('2006/01/02 - 15:04:05.000')(at), '2024/03/05 - 14:07:09.042');
  assert.equal(compileGoTimeLayout('2006-01-02T15:04:05.000-07:00')(at), '2024-03-05T14:07:09.042+00:00');
  assert.equal(compileGoTimeLayout('2006-01-02T15:04:05Z07:00')(at), '2024-03-05T14:07:09Z');
  assert.equal(compileGoTimeLayout('Mon Jan _2 3:4:5 PM 06')(at), 'Tue Mar  5 2:7:9 PM 24');
  assert.equal(compileGoTimeLayout('Monday, January 2 .999999')(at), 'Tuesday, March 5 .042');
  assert.equal(compileGoTimeLayout('15:04:05.000000')(at), '14:07:09.042000');
  assert.equal(
    compileGoTimeLayout('2006 Janet')(at),
    '2024 Janet',
    '"Jan" followed by a lower-case letter is literal',
  );
  assert.equal(compileGoTimeLayout('day 002')(at), 'day 065');
});

test("Go's Duration.String()", () => {
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(850), '850ns');
  assert.equal(goDuration(4529), '4.529µs');
  assert.equal(goDuration(4000), '4µs');
  assert.equal(goDuration(1_234_567), '1.234567ms');
  assert.equal(goDuration(20_000_000), '20ms');
  assert.equal(goDuration(1_500_000_000), '1.5s');
  assert.equal(goDuration(62_500_000_000), '1m2.5s');
  assert.equal(goDuration(3_723_000_000_000), '1h2m3s');
});

test('go-logging patterns: default, logstash (valid JSON), custom verbs', () => {
  const ctx = { colors: false, module: 'KRAKEND', program: 'gw' };
  const rec = { level: 40, message: 'say "hi"', time: at, id: 7 };
  assert.equal(compilePattern(DEFAULT_PATTERN, ctx)(rec), '2024/03/05 - 14:07:09.042 ▶ WARNIN say "hi"');
  const logstash = JSON.parse(compilePattern(LOGSTASH_PATTERN, ctx)(rec));
  assert.deepEqual(logstash, {
    '@timestamp': '2024-03-05T14:07:09.042+00:00',
    '@version': 1,
    level: 'WARNING',
    message: 'say "hi"',
    module: 'KRAKEND',
  });
  const custom = compilePattern(
    '[APP] %{id:03d} %{pid} %{program} %{module} %{level:-8s}| %{message} %{shortfile}',
    ctx,
  )(rec);
  assert.equal(custom, `[APP] 007 ${process.pid} gw KRAKEND WARNING | say "hi" ???`);
  const colored = compilePattern('%{color}%{level}%{color:reset} %{color:bold}x', { ...ctx, colors: true });
  assert.equal(colored({ ...rec, level: 50 }), '\x1b[31mERROR\x1b[0m \x1b[31;1mx');
  assert.equal(colored({ ...rec, level: 30 }), 'INFO\x1b[0m x', 'INFO has no color in go-logging');
  assert.deepEqual(patternIssues(DEFAULT_PATTERN), []);
  assert.match(patternIssues('%{nope}')[0], /unknown verb %\{nope\}/);
  assert.match(patternIssues('%{color:blue}')[0], /color:blue/);
  assert.match(patternIssues('%{level:zz}')[0], /fmt verb/);
});

test("gin's access-log line", () => {
  const line = ginLineFormatter()(200, 4529, '172.17.0.1', 'GET', '/user/foo');
  assert.match(
    line,
    /^\[GIN\] \d{4}\/\d\d\/\d\d - \d\d:\d\d:\d\d \| 200 \| {7}4\.529µs \| {6}172\.17\.0\.1 \| GET {6}"\/user\/foo"\n$/,
  );
  const odd = ginLineFormatter()(404, 12_000_000, '::1', 'OPTIONS', '/a"b');
  assert.match(odd, /\| 404 \| {10}12ms \| {13}::1 \| OPTIONS {2}"\/a\\"b"\n$/);
});

test('gin lines: the parts one formatter keeps between lines follow each line', () => {
  const line = ginLineFormatter();
  const tail = (l) => l.slice(l.indexOf(' | ') + 3);
  // gin: "%3d | %13v | %15s | %-7s %#v"
  const expected = (status, latency, ip, method, path) =>
    `${status} | ${latency.padStart(13)} | ${ip.padStart(15)} | ${method.padEnd(7)}  "${path}"\n`;
  // one formatter, lines whose parts change and come back: its kept parts must follow
  for (const [status, latencyNs, latency, ip, method, path] of [
    [200, 1500, '1.5µs', '10.0.0.1', 'GET', '/a'],
    [500, 2_000_050, '2.00005ms', '10.0.0.2', 'POST', '/b'],
    [200, 1_000_100, '1.0001ms', '10.0.0.1', 'GET', '/b'],
    [404, 999, '999ns', '10.0.0.1', 'GET', '/a'],
  ])
    assert.equal(
      tail(line(status, latencyNs, ip, method, path)),
      expected(status, latency, ip, method, path),
    );
});

test('gw check: telemetry/logging errors and warnings with their paths', () => {
  const check = (logging) =>
    checkConfig({ version: 3, extra_config: { 'telemetry/logging': logging }, endpoints: [] });
  const ns = '$.extra_config["telemetry/logging"]';
  let r = check({ level: 'INFO', stdout: true });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
  r = check({ level: 'LOUD', stdout: true, format: 'custom' });
  assert.deepEqual(
    r.errors.map((e) => e.path),
    [`${ns}.level`, `${ns}.custom_format`],
  );
  r = check({ level: 'debug', stdout: true, format: 'fancy' });
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0].path, /format/);
  r = check({ level: 'INFO', stdout: true, format: 'custom', custom_format: '%{time} %{bogus}' });
  assert.equal(r.errors[0].path, `${ns}.custom_format`);
  assert.match(r.errors[0].message, /bogus/);
  r = check({ level: 'INFO', syslog: true, syslog_facility: 'local3' });
  assert.deepEqual(r.errors, []);
  assert.equal(r.warnings[0].path, `${ns}.syslog`);
  assert.match(r.warnings[0].message, /not supported/);
  r = check({ level: 'INFO', syslog_facility: 'kern' });
  assert.equal(r.errors[0].path, `${ns}.syslog_facility`);
  r = check({ level: 'INFO' });
  assert.match(r.warnings[0].message, /application log is off/);
});

async function waitFor(fn, what, ms = 3000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("gin lines: the latency column is Go's Duration.String() padded to 13, at every scale", () => {
  const line = ginLineFormatter();
  const column = (l) => l.split(' | ')[2];
  const values = [
    0, 0.4, 1, 9, 10, 999, 999.6, 1000, 1001, 1010, 1100, 12_345, 999_999, 1_000_000, 1_000_001,
  ];
  values.push(1_050_000, 123_456_789, 999_999_999, 1e9, 1_500_000_000, 62_500_000_000, 3_723_000_000_000);
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.push((seed % 10 ** (1 + (i % 10))) + (i % 3) / 3);
  }
  for (const ns of values)
    assert.equal(column(line(200, ns, '10.0.0.1', 'GET', '/')), goDuration(ns).padStart(13), `${ns} ns`);
});

for (const stdout of ['socket', 'fifo', 'file'])
  test(`gw run, stdout a ${stdout}: KrakenD text lines, prefix, level, gin access log, logger_skip_paths`, async (t) => {
    const backend = await jsonBackend({ '/a': { a: 1 } });
    const gw = await startGateway(
      {
        version: 3,
        extra_config: {
          'telemetry/logging': { level: 'INFO', prefix: '[KRAKEND]', stdout: true },
          router: { logger_skip_paths: ['/__health'] },
        },
        endpoints: [{ endpoint: '/a', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
      },
      { stdout },
    );
    t.after(async () => {
      await gw.stop();
      await backend.close();
    });
    assert.equal((await get(`${gw.url}/a?x=1`)).status, 200);
    assert.equal((await get(`${gw.url}/__health`)).status, 200);
    assert.equal((await get(`${gw.url}/missing`)).status, 404);
    await waitFor(() => gw.logs().includes('"/missing"'), 'the access log of /missing');
    const lines = gw.logs().split('\n');
    assert.ok(
      lines.some((l) =>
        /^\[KRAKEND\] \d{4}\/\d\d\/\d\d - \d\d:\d\d:\d\d\.\d{3} ▶ INFO gw listening on/.test(l),
      ),
      gw.logs(),
    );
    assert.ok(
      lines.some((l) =>
        /^\[GIN\] .* \| 200 \| +[\d.]+(µs|ms) \| +127\.0\.0\.1 \| GET {6}"\/a\?x=1"$/.test(l),
      ),
      gw.logs(),
    );
    assert.ok(lines.some((l) => /^\[GIN\] .* \| 404 \|/.test(l)));
    assert.ok(!gw.logs().includes('__health'), 'logger_skip_paths drops /__health');
    assert.ok(!lines.some((l) => l.includes('▶ DEBUG')), 'INFO hides debug lines');
    assert.ok(!lines.some((l) => l.startsWith('{')), 'no pino JSON once telemetry/logging is set');
  });

test('gw run: logstash JSON lines; disable_access_log; stdout false silences the application log only', async (t) => {
  const backend = await jsonBackend({ '/a': { a: 1 } });
  t.after(() => backend.close());
  const endpoints = [{ endpoint: '/a', backend: [{ host: [backend.url], url_pattern: '/a' }] }];

  const logstash = await startGateway({
    version: 3,
    extra_config: {
      'telemetry/logging': { level: 'DEBUG', prefix: '[KRAKEND]', stdout: true, format: 'logstash' },
      router: { disable_access_log: true },
    },
    endpoints,
  });
  await get(`${logstash.url}/a`);
  await waitFor(() => logstash.logs().includes('gw listening'), 'the startup line');
  await new Promise((r) => setTimeout(r, 200));
  await logstash.stop();
  const appLines = logstash
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  assert.ok(appLines.length >= 2, logstash.logs());
  for (const l of appLines) {
    const rec = JSON.parse(l);
    assert.equal(rec['@version'], 1);
    assert.equal(rec.module, 'KRAKEND');
    assert.match(rec['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    assert.ok(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'].includes(rec.level));
  }
  assert.ok(
    appLines.some((l) => JSON.parse(l).level === 'DEBUG'),
    'DEBUG level shows debug lines',
  );
  assert.ok(!logstash.logs().includes('[GIN]'), 'disable_access_log');

  const quiet = await startGateway({
    version: 3,
    extra_config: { 'telemetry/logging': { level: 'DEBUG', stdout: false } },
    endpoints,
  });
  await get(`${quiet.url}/a`);
  await waitFor(() => quiet.logs().includes('[GIN]'), 'the access log');
  await quiet.stop();
  const out = quiet
    .logs()
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('WARN '));
  assert.ok(out.length >= 1 && out.every((l) => l.startsWith('[GIN] ')), quiet.logs());
});

test('gw run without telemetry/logging keeps pino JSON lines (access log included)', async (t) => {
  const backend = await jsonBackend({ '/a': { a: 1 } });
  const gw = await startGateway({
    version: 3,
    endpoints: [{ endpoint: '/a', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
  });
  t.after(async () => {
    await gw.stop();
    await backend.close();
  });
  await get(`${gw.url}/a`);
  await waitFor(() => gw.logs().includes('GET /a 200'), 'the access log line');
  const line = gw
    .logs()
    .split('\n')
    .find((l) => l.includes('GET /a 200'));
  const rec = JSON.parse(line);
  assert.equal(rec.level, 30);
  assert.match(rec.msg, /^\[GW\] GET \/a 200 [\d.]+ms 127\.0\.0\.1$/);
});
