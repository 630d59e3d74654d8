// No Docker engine runs here: this test performs the Dockerfile's runtime stage by hand into a
// folder standing for the image's root (WORKDIR and COPY destinations under it, the production
// install run for real), then runs the image as KrakenD users run theirs: their folder at
// /etc/krakend, `run -c krakend.json` from there with a relative Lua path, and the HEALTHCHECK's
// `gw health` reading what that `gw run` reads. CI runs it on this host and in the Debian 13 root
// (Node 24, the current uWebSockets.js build: the image's platform).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { freePort, jsonBackend, ROOT, runGw } from './helpers/gateway.mjs';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile
  .split(/^FROM /m)
  .slice(1)
  .map((s) => `FROM ${s}`);
// Continuation lines joined: one instruction per line.
const runtime = stages.at(-1).replace(/\\\n\s*/g, '');

function instruction(stage, name) {
  return stage
    .split('\n')
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim());
}

test('Dockerfile shape: Node 24 on Debian 13, KrakenD-style paths, non-root, gw health', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) assert.match(s, /^FROM node:24-trixie-slim/);
  const workdirs = instruction(runtime, 'WORKDIR');
  assert.equal(workdirs.at(-1), '/etc/krakend', 'the last WORKDIR is where users mount their folder');
  const user = instruction(runtime, 'USER');
  assert.equal(user.length, 1);
  assert.notEqual(user[0], 'root');
  assert.ok(instruction(runtime, 'RUN').some((r) => r.includes('npm ci --omit=dev')));
  assert.deepEqual(JSON.parse(instruction(runtime, 'ENTRYPOINT')[0]), ['gw']);
  assert.deepEqual(JSON.parse(instruction(runtime, 'CMD')[0]), ['run', '-c', '/etc/krakend/krakend.json']);
  const health = /^HEALTHCHECK .*CMD (\[.*\])$/m.exec(runtime);
  assert.deepEqual(JSON.parse(health[1]), ['gw', 'health']);
  // The bundled config exposes neither /__debug/ nor /__echo/.
  const bundled = JSON.parse(readFileSync(join(ROOT, 'examples', 'image', 'krakend.json'), 'utf8'));
  assert.notEqual(bundled.debug_endpoint, true);
  assert.notEqual(bundled.echo_endpoint, true);
});

/** The runtime stage's WORKDIR, COPY and production-install steps, under `root`. */
function replayRuntimeStage(root) {
  let workdir = '/';
  const at = (path) => join(root, path.startsWith('/') ? path : join(workdir, path));
  for (const line of runtime.split('\n')) {
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name === 'WORKDIR') {
      workdir = rest[0];
      mkdirSync(at('.'), { recursive: true });
    } else if (name === 'COPY') {
      const fromBuild = rest[0].startsWith('--from=');
      const parts = fromBuild ? rest.slice(1) : rest;
      const dest = parts.pop();
      for (const src of parts) {
        // The build stage's output is this built checkout (`npm ci` ran its prepare here).
        const from = join(ROOT, fromBuild ? src.replace(/^\/build\//, '') : src);
        const to = dest.endsWith('/') ? join(at(dest), src.split('/').pop()) : at(dest);
        mkdirSync(dirname(to), { recursive: true });
        cpSync(from, to, { recursive: true });
      }
    } else if (name === 'RUN' && line.includes('npm ci --omit=dev')) {
      // As written, but from npm's cache here, which it must not clean.
      const install = line
        .trim()
        .slice(4)
        .replace('npm ci ', 'npm ci --prefer-offline ')
        .replace(/&& npm cache clean --force/, '');
      execFileSync('bash', ['-c', install], {
        cwd: at('.'),
        stdio: 'pipe',
        env: { ...process.env, NODE_ENV: 'production' },
      });
    }
  }
}

test('the runtime stage replayed: a KrakenD folder at /etc/krakend serves, relative paths and health included', {
  timeout: 240000,
}, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gw-image-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  replayRuntimeStage(root);
  const app = join(root, 'opt', 'gw');
  const etc = join(root, 'etc', 'krakend');

  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  // A devDependency that a runtime package also needs (protobufjs → @types/node) is rightly installed.
  const devOnly = Object.keys(pkg.devDependencies ?? {}).filter(
    (dev) => lock.packages?.[`node_modules/${dev}`]?.dev === true,
  );
  assert.ok(devOnly.includes('typescript'), 'the lockfile marks dev-only packages');
  for (const dev of devOnly)
    assert.throws(
      () => readFileSync(join(app, 'node_modules', dev, 'package.json')),
      `${dev} is a devDependency`,
    );
  const size = Number(execFileSync('du', ['-sb', app], { encoding: 'utf8' }).split('\t')[0]);
  t.diagnostic(`gw's layer of the image (${app}): ${(size / 1048576).toFixed(1)} MiB`);

  // The user's folder, mounted over /etc/krakend: a config with a relative Lua source.
  const be = await jsonBackend({ '/a': { a: 1 } });
  t.after(() => be.close());
  const port = await freePort();
  mkdirSync(join(etc, 'scripts'), { recursive: true });
  writeFileSync(
    join(etc, 'scripts', 'mark.lua'),
    'function mark(r)\n  r:headers("X-From-Lua", "relative path")\nend\n',
  );
  writeFileSync(
    join(etc, 'krakend.json'),
    JSON.stringify({
      version: 3,
      port,
      listen_ip: '127.0.0.1',
      endpoints: [
        {
          endpoint: '/a',
          backend: [
            {
              host: [be.url],
              url_pattern: '/a',
              extra_config: {
                'modifier/lua-backend': { sources: ['scripts/mark.lua'], pre: 'mark(request.load())' },
              },
            },
          ],
        },
      ],
    }),
  );
  // `docker run -v $PWD:/etc/krakend IMAGE run -c krakend.json`: ENTRYPOINT + that CMD, from WORKDIR.
  const entrypoint = JSON.parse(instruction(runtime, 'ENTRYPOINT')[0]);
  assert.deepEqual(entrypoint, ['gw']);
  const child = spawn(
    process.execPath,
    [join(app, 'bin', 'gw.js'), 'run', '-c', 'krakend.json', '--workers', '1'],
    {
      cwd: etc,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  let status = 0;
  for (let i = 0; i < 150 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await fetch(`http://127.0.0.1:${port}/__health`).then(
      (r) => r.status,
      () => 0,
    );
  }
  assert.equal(status, 200, out);
  const res = await fetch(`http://127.0.0.1:${port}/a`);
  assert.equal(res.status, 200, out);
  assert.deepEqual(await res.json(), { a: 1 });
  assert.equal(
    be.requests.at(-1).headers['x-from-lua'],
    'relative path',
    'the Lua source was found from /etc/krakend',
  );

  // The HEALTHCHECK: `gw health` with no arguments reads the entrypoint's -c (relative to its
  // working directory) and port; here the entrypoint is not PID 1, so --pid names it.
  const health = await runGw(['health', '--pid', String(child.pid)]);
  assert.equal(health.code, 0, health.stderr);
  assert.equal(health.stdout, `healthy: GET http://127.0.0.1:${port}/__health answered 200\n`);
});
