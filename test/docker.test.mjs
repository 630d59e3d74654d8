// No Docker engine runs here: this test performs the Dockerfile's runtime stage by hand in a
// clean folder — production install of the built package, the stage's COPY steps — then starts
// the image's ENTRYPOINT + CMD and probes the HEALTHCHECK URL.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, ROOT } from './helpers/gateway.mjs';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile
  .split(/^FROM /m)
  .slice(1)
  .map((s) => `FROM ${s}`);
const runtime = stages.at(-1);

function instruction(stage, name) {
  return stage
    .split('\n')
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim());
}

test('Dockerfile shape: multi-stage node:20-bookworm-slim, non-root, prod deps, entrypoint, healthcheck', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) assert.match(s, /^FROM node:20-bookworm-slim/);
  const user = instruction(runtime, 'USER');
  assert.equal(user.length, 1);
  assert.notEqual(user[0], 'root');
  assert.ok(instruction(runtime, 'RUN').some((r) => r.includes('npm ci --omit=dev')));
  assert.deepEqual(JSON.parse(instruction(runtime, 'ENTRYPOINT')[0]), ['gw']);
  assert.deepEqual(JSON.parse(instruction(runtime, 'CMD')[0]), ['run', '-c', '/etc/gw/krakend.json']);
  assert.match(runtime, /HEALTHCHECK[\s\S]*\/__health/);
});

test('runtime stage performed in a clean folder starts and answers its healthcheck', {
  timeout: 240000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-image-'));
  const app = join(dir, 'app');
  const etc = join(dir, 'etc', 'gw');
  mkdirSync(app, { recursive: true });
  mkdirSync(etc, { recursive: true });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Each COPY of the runtime stage, from the build context or the build stage (= this built tree).
  for (const copy of instruction(runtime, 'COPY')) {
    const parts = copy.split(/\s+/).filter((p) => !p.startsWith('--from='));
    const dest = parts.pop();
    for (const src of parts) {
      const target = dest.startsWith('/etc/gw/')
        ? join(etc, dest.slice('/etc/gw/'.length))
        : dest === './'
          ? join(app, src.replace(/^\/app\//, ''))
          : join(app, dest.replace(/^\.\//, ''));
      cpSync(join(ROOT, src.replace(/^\/app\//, '')), target, { recursive: true });
    }
  }
  const install = instruction(runtime, 'RUN').find((r) => r.includes('npm ci --omit=dev'));
  execFileSync('bash', ['-c', `${install.replace(/&&.*$/, '')} --prefer-offline`], {
    cwd: app,
    stdio: 'pipe',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  // A devDependency that a runtime package also needs (protobufjs → @types/node) is rightly installed.
  const devOnly = Object.keys(pkg.devDependencies ?? {}).filter(
    (dev) => lock.packages?.[`node_modules/${dev}`]?.dev === true,
  );
  assert.ok(devOnly.includes('typescript'), 'the lockfile marks dev-only packages');
  for (const dev of devOnly) {
    assert.throws(
      () => readFileSync(join(app, 'node_modules', dev, 'package.json')),
      `${dev} is a devDependency`,
    );
  }
  // As a user would mount their own config: the example, on a port free on this machine.
  const port = await freePort();
  const mounted = join(etc, 'krakend.json');
  writeFileSync(mounted, readFileSync(mounted, 'utf8').replaceAll('8080', String(port)));
  const cmd = JSON.parse(instruction(runtime, 'CMD')[0]).map((a) =>
    a === '/etc/gw/krakend.json' ? mounted : a,
  );
  const child = spawn(process.execPath, [join(app, 'bin', 'gw.js'), ...cmd, '--workers', '1'], {
    cwd: app,
    env: { ...process.env, NODE_ENV: 'production', KRAKEND_LISTEN_IP: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await fetch(`http://127.0.0.1:${port}/__health`).then(
      (r) => r.status,
      () => 0,
    );
  }
  assert.equal(status, 200, out);
  const hello = await fetch(`http://127.0.0.1:${port}/hello`);
  assert.equal(hello.status, 200, out);
  assert.deepEqual(await hello.json(), { message: 'pong' });
});
