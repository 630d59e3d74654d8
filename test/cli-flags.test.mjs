// The command line as krakend's: krakend-cobra's root.go declares each command's flags (run: -c,
// -d, -p; check: -c, -d, -t, -i, -l, -s, -n, the three lint flags mutually exclusive; check's
// alias "validate") and cobra/pflag parses them: short flags bundle, take their value from the
// rest of the token or the next argument, `--name=value`, counted -d, and -h/--help on every
// command. Real `gw`, real files.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, get, ROOT, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

const VALID = join(ROOT, 'test', 'fixtures', 'config', 'valid.json');

test('check: bundled short flags as krakend-cobra documents them (-tlc FILE, -tnc FILE, -dc FILE)', async () => {
  for (const args of [
    ['check', '-tlc', VALID],
    ['check', '-tnc', VALID],
    ['check', '-lc', VALID],
    ['check', '-ntc', VALID],
    ['validate', '-tc', VALID],
  ]) {
    const r = await runGw(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, 'Syntax OK!\n', args.join(' '));
  }
  const d = await runGw(['check', '-dc', VALID]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^Parsing configuration file: .*valid\.json\nGlobal settings\n/);
});

test('check: a flag value from the rest of the token (-cFILE, -c=FILE) or --config=FILE', async () => {
  for (const args of [
    ['check', `-c${VALID}`],
    ['check', `-c=${VALID}`],
    ['check', `--config=${VALID}`],
    ['check', '--config', VALID],
  ]) {
    const r = await runGw(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, 'Syntax OK!\n');
  }
});

test('check -tlc: the -l in a bundle is applied (a misspelt namespace field fails the check, -tc passes it)', async () => {
  const file = writeConfig({
    version: 3,
    endpoints: [
      {
        endpoint: '/x',
        backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/x' }],
        extra_config: { 'qos/ratelimit/router': { max_rat: 10 } },
      },
    ],
  });
  const plain = await runGw(['check', '-tc', file]);
  assert.equal(plain.code, 0, plain.stderr);
  const linted = await runGw(['check', '-tlc', file]);
  assert.equal(linted.code, 1);
  assert.match(
    linted.stderr,
    /^ERROR {2}\$\.endpoints\[0\]\.extra_config\["qos\/ratelimit\/router"\]\.max_rat: unknown property "max_rat" \(did you mean "max_rate"\?\)$/m,
  );
});

test('check: -l, -n and -s are mutually exclusive (krakend-cobra MutuallyExclusive("lint", "lint-no-network", "lint-schema"))', async () => {
  const r = await runGw(['check', '-lnc', VALID]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /if any flags in the group \[lint lint-no-network lint-schema\] are set none of the others can be; \[lint lint-no-network\] were all set/,
  );
});

test('check -s FILE: lints against a schema file (draft 2019-09, as krakend-schema)', async () => {
  const dir = join(ROOT, 'test', 'fixtures', 'config');
  const schemaFile = writeConfig({
    $schema: 'https://json-schema.org/draft/2019-09/schema',
    type: 'object',
    required: ['version', 'name'],
    properties: { name: { type: 'string', minLength: 3 } },
  });
  let r = await runGw(['check', '-s', schemaFile, '-c', join(dir, 'valid.json')]);
  assert.equal(r.code, 0, r.stderr);
  const unnamed = writeConfig({ version: 3, name: 'ab' });
  r = await runGw(['check', `-s=${schemaFile}`, '-c', unnamed]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^ERROR {2}\$\.name: expected a string of at least 3 character\(s\), found the string "ab"$/m,
  );
  r = await runGw(['check', '-s', 'https://www.krakend.io/schema/v2.13/krakend.json', '-c', unnamed]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /gw reads schema files, not URLs/);
  const broken = join(dir, 'broken.json');
  r = await runGw(['check', '-s', broken, '-c', unnamed]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the schema .*broken\.json/);
});

test('check -d -i: the indentation of the dump (krakend-cobra --indent)', async () => {
  const r = await runGw(['check', '-d', '-i', '>>', '-c', VALID]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\n>>Name: config fixture\n/);
  assert.match(r.stdout, /\n>>>>Timeout: 3s\n/);
});

test('--help on every command, and `gw help COMMAND` (cobra)', async () => {
  for (const [cmd, flag] of [
    ['run', '--config'],
    ['check', '--lint-no-network'],
    ['validate', '--test-gin-routes'],
    ['health', '--pid'],
    ['version', '--help'],
  ]) {
    for (const h of ['--help', '-h']) {
      const r = await runGw([cmd, h]);
      assert.equal(r.code, 0, `${cmd} ${h}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage:$/m, `${cmd} ${h}`);
      assert.ok(r.stdout.includes(flag), `${cmd} ${h} lists ${flag}:\n${r.stdout}`);
    }
  }
  const helpCheck = await runGw(['help', 'check']);
  assert.equal(helpCheck.code, 0);
  assert.match(helpCheck.stdout, /-l, --lint/);
  assert.match(helpCheck.stdout, /-n, --lint-no-network/);
  assert.match(helpCheck.stdout, /-s, --lint-schema SCHEMA/);
  assert.match(helpCheck.stdout, /Aliases:\n {2}check, validate/);
  // --help wins over a missing -c, as in cobra
  assert.equal((await runGw(['check', '-h'])).code, 0);
  const root = await runGw(['--help']);
  assert.equal(root.code, 0);
  assert.match(root.stdout, /^ {2}check {4}Validates that the configuration file is valid\.$/m);
});

test('usage errors name the flag and exit 2 (pflag texts)', async () => {
  const cases = [
    [['check', '-xc', VALID], /unknown shorthand flag: 'x' in -xc/],
    [['check', '--colour', '-c', VALID], /unknown flag: --colour/],
    [['run', '-c'], /flag needs an argument: 'c' in -c/],
    [['check', '--config'], /flag needs an argument: --config/],
    [['check', '-t'], /check needs -c FILE/],
    [['run', '-p', 'http'], /--port expects a port number 0-65535, found "http"/],
    [['run', '--lint'], /unknown flag: --lint/],
    [['check', '-c', VALID, 'extra.json'], /unexpected argument "extra\.json"/],
    [['audit', '-c', VALID], /gw has no audit command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['help', 'frobnicate'], /unknown help topic "frobnicate"/],
  ];
  for (const [args, re] of cases) {
    const r = await runGw(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});

test('run -dc FILE: debug and config from one bundle; -p after it (krakend-cobra RunCommand flags)', async () => {
  const file = writeConfig({
    version: 3,
    listen_ip: '127.0.0.1',
    endpoints: [{ endpoint: '/x', backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/x' }] }],
  });
  const gw = await startGateway(null, { file, ...(await bundled(file)) });
  try {
    // -d serves the /__debug/ endpoint
    const r = await get(`${gw.url}/__debug/anything`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { message: 'pong' });
  } finally {
    await gw.stop();
  }
});

/** `gw run -dc FILE -pPORT --workers=1`, as startGateway options. */
async function bundled(file) {
  const port = await freePort();
  return { port, rawArgs: ['run', '-dc', file, `-p${port}`, '--workers=1'] };
}

test('gw health reads the bundled flags of the `gw run` it asks about (--pid)', async () => {
  const file = writeConfig({
    version: 3,
    listen_ip: '127.0.0.1',
    endpoints: [{ endpoint: '/x', backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/x' }] }],
  });
  const opts = await bundled(file);
  const gw = await startGateway(null, { file, ...opts });
  try {
    const r = await runGw(['health', '--pid', String(gw.child.pid)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`127\\.0\\.0\\.1:${opts.port}`));
  } finally {
    await gw.stop();
  }
});
