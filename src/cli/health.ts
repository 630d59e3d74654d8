// `gw health`: asks a running gw whether it is healthy, reading the same configuration `gw run`
// serves (port, listen_ip, the router's health_path and disable_health, TLS), so that a container
// HEALTHCHECK or a probe needs no address of its own. Exit 0 healthy, 1 not.
//
// - GET {health_path} (default /__health) must answer 200, within 3 s;
// - TLS: https, the certificate not verified (it names the public host, not 127.0.0.1);
// - with disable_health, or mutual TLS (the probe has no client certificate), a TCP connection to
//   the port is what is checked, and the output says so.
//
// Without -c, the configuration and port are those of the `gw run` that is PID 1 (a container's
// entrypoint; --pid names another): its -c, resolved from its working directory, and its -p;
// else ./krakend.json.

import { readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { resolve } from 'node:path';
import { tlsEnabled } from '../security/tls.js';
import type { ServiceConfig } from '../types.js';
import { flagString, type ParsedCommandLine, parseCommandLine } from './args.js';
import { readConfigFile } from './config-file.js';

export interface HealthCommandOptions {
  /** -c; undefined: PID 1's, or ./krakend.json. */
  config?: string;
  /** -p: the port `gw run -p` was given. */
  port?: number;
  /** --pid: the `gw run` process whose -c and -p are used when -c is not given (default 1). */
  pid?: number;
}

const TIMEOUT_MS = 3000;

/** Where a probe on this machine reaches the service: its listen_ip, or loopback for "all". */
function probeHost(service: ServiceConfig): string {
  const ip = service.listen_ip;
  if (ip === undefined || ip === '' || ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::' || ip === '[::]') return '::1';
  return ip.replace(/^\[(.*)\]$/, '$1');
}

function get(url: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.get(url, { timeout: TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

function connect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: TIMEOUT_MS });
    socket.on('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.on('timeout', () => socket.destroy(new Error(`no connection within ${TIMEOUT_MS} ms`)));
    socket.on('error', reject);
  });
}

/** The -c and -p of the `gw run` that is process `pid` (read from /proc), or undefined. */
function entrypointRun(pid: number): { config?: string; port?: number } | undefined {
  let args: string[];
  let cwd: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
  const run = args.indexOf('run');
  if (run < 0 || !args.slice(0, run).some((a) => /(^|\/)gw(\.js)?$/.test(a))) return undefined;
  // Read as `gw run` read them (`-dc FILE`, `--config=FILE`, …).
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(args.slice(run, args.at(-1) === '' ? -1 : undefined));
  } catch {
    return undefined;
  }
  const config = flagString(parsed, 'config');
  const port = flagString(parsed, 'port');
  return {
    config: config === undefined ? undefined : resolve(cwd, config),
    port: port === undefined ? undefined : Number(port),
  };
}

export async function healthCommand(opts: HealthCommandOptions): Promise<number> {
  const entrypoint = opts.config === undefined ? entrypointRun(opts.pid ?? 1) : undefined;
  const file = opts.config ?? entrypoint?.config ?? 'krakend.json';
  const givenPort = opts.port ?? entrypoint?.port;
  const service = readConfigFile(file);
  if (service === undefined) return 1;
  const port = givenPort ?? (typeof service.port === 'number' ? service.port : 8080);
  const host = probeHost(service);
  const router = (service.extra_config?.router ?? {}) as { health_path?: unknown; disable_health?: unknown };
  const tls = tlsEnabled(service.tls) ? service.tls : undefined;
  const mtls = (tls as { enable_mtls?: unknown } | undefined)?.enable_mtls === true;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    if (router.disable_health === true || mtls) {
      await connect(host, port);
      const why = mtls ? 'mutual TLS' : 'disable_health';
      process.stdout.write(`healthy: ${where} accepts connections (${why}: no health endpoint to ask)\n`);
      return 0;
    }
    const path = typeof router.health_path === 'string' ? router.health_path : '/__health';
    const url = new URL(`${tls ? 'https' : 'http'}://${where}${path}`);
    const status = await get(url);
    if (status !== 200) {
      process.stderr.write(`unhealthy: GET ${url} answered ${status}\n`);
      return 1;
    }
    process.stdout.write(`healthy: GET ${url} answered 200\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`unhealthy: ${where}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
