// Test harness: real backends on 127.0.0.1 and the real gateway started as `gw run -c FILE`.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GW_BIN = join(ROOT, 'bin', 'gw.js');

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Starts a node:http backend on 127.0.0.1. `handler(req, res, body)` gets the whole request body
 * as a Buffer. Returns { url, port, requests, close }, `requests` recording what arrived.
 */
export async function startBackend(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      Promise.resolve(handler(req, res, body)).catch((err) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A backend answering JSON: `routes` maps "METHOD /path" or "/path" to a value or (req, body) => value. */
export function jsonBackend(routes) {
  return startBackend((req, res, body) => {
    const path = req.url.split('?')[0];
    const route = routes[`${req.method} ${path}`] ?? routes[path];
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    const value = typeof route === 'function' ? route(req, body) : route;
    if (value?.__status) {
      res.writeHead(value.__status, { 'content-type': 'application/json', ...(value.__headers ?? {}) });
      res.end(typeof value.__body === 'string' ? value.__body : JSON.stringify(value.__body ?? {}));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  });
}

/** Writes `config` (an object, or a string with `ext`) to a temp file; returns its path. */
export function writeConfig(config, ext = 'json') {
  const dir = mkdtempSync(join(tmpdir(), 'gw-test-'));
  const file = join(dir, `krakend.${ext}`);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

/** Runs `gw ARGS…` to completion; resolves { code, stdout, stderr }. */
export function runGw(args, { env = {}, timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GW_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts `gw run -c FILE -p PORT` with `config` (object; `port` is set for you; or null with
 * opts.file) and waits until it answers. Returns { url, port, child, logs(), stop() }. Extra CLI
 * args via opts.args; opts.rawArgs replaces the whole command line.
 * The process is killed when the test process exits, so nothing outlives a test run.
 */
/**
 * gw's stdout as `kind` says: 'socket' (what Node's spawn gives: a socket pair), 'fifo' (a pipe,
 * as a shell pipeline or a container runtime gives) or 'file' (`gw run > file`).
 */
function stdoutOf(kind) {
  if (kind === 'socket') return { stdio: 'pipe' };
  const path = join(mkdtempSync(join(tmpdir(), 'gw-stdout-')), 'stdout');
  if (kind === 'file') return { stdio: openSync(path, 'w'), file: path };
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return {
    stdio: openSync(path, constants.O_WRONLY),
    reader: () => new net.Socket({ fd: readFd, readable: true }),
  };
}

export async function startGateway(config, opts = {}) {
  const port = opts.port ?? (await freePort());
  const cfg =
    config === null || typeof config === 'string' ? config : { listen_ip: '127.0.0.1', ...config, port };
  const file = opts.file ?? writeConfig(cfg, opts.ext ?? 'json');
  const args = opts.rawArgs ?? ['run', '-c', file, '-p', String(port), ...(opts.args ?? ['--workers', '1'])];
  const target = stdoutOf(opts.stdout ?? 'socket');
  const child = spawn(process.execPath, [GW_BIN, ...args], {
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', target.stdio, 'pipe'],
  });
  if (typeof target.stdio === 'number') closeSync(target.stdio);
  const stdout = target.reader ? target.reader() : child.stdout;
  let out = '';
  stdout?.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  // A test that fails before stop() must not hang the run: the child is killed at exit instead.
  child.unref();
  stdout?.unref();
  child.stderr.unref();
  const logs = target.file ? () => readFileSync(target.file, 'utf8') + out : () => out;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15000);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  for (;;) {
    if (exited) throw new Error(`gw exited early (${JSON.stringify(exited)}):\n${logs()}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`gw did not start on ${url}:\n${logs()}`);
    }
    if (await portOpen(port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // The port answers as soon as one worker listens; the main thread says when all of them do.
  for (let i = 0; i < 120 && !/listening on /.test(logs()) && !exited; i++)
    await new Promise((r) => setTimeout(r, 25));
  return {
    url,
    port,
    child,
    /** What gw writes to stdout (null for a file): pause() it to play a stalled log reader. */
    stdout,
    logs,
    /** Resolves once the output matches `re` (log lines are written asynchronously). */
    waitForLog: async (re, timeoutMs = 5000) => {
      const until = Date.now() + timeoutMs;
      while (!re.test(logs()) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      return logs();
    },
    stop: () =>
      new Promise((resolve) => {
        child.ref();
        process.removeListener('exit', kill);
        if (exited) return resolve(exited);
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.kill('SIGTERM');
        setTimeout(kill, 5000).unref();
      }),
  };
}

/** fetch() with a JSON convenience: resolves { status, headers, text, json }. */
export async function get(url, init = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it returns something truthy (resolved with it) or `timeoutMs` passes. */
export async function until(fn, timeoutMs = 20000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * One request with node:http, its path sent as written (a URL would resolve dot segments and
 * escape the query), redirects not followed: { status, headers (lower-case), text }.
 */
export function send(base, method, path, { headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = http.request(
      { hostname, port, path, method, headers, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
