// Which HTTP front serves, decided once at start from what this platform loads, and why.
//
// - The current uWebSockets.js build (Node 20–25, glibc ≥ 2.38: Debian 13, Ubuntu 24.04, the
//   Docker image) is the front wherever it loads.
// - Elsewhere node:http serves: every real client is answered there (HTTP/1.0, any token in header
//   names, pipelining). From Node 22.12 its workers share the port (`reusePort`); on Node 20 one
//   worker serves.
// - The old uWebSockets.js build (Node ≤ 20, glibc 2.36) is used only when asked (`--front uws`):
//   its parser leaves some real clients without an answer (HTTP/1.0, `_` or `.` in header names,
//   more than 48 headers, unknown methods, absolute-form targets, obs-fold).

import { createRequire } from 'node:module';
import type { ServiceConfig } from '../types.js';

export type FrontKind = 'uws' | 'node';
/** What the command line asks: a front by name, or the best that loads. */
export type FrontRequest = FrontKind | 'auto';
/** The uWebSockets.js builds gw knows. */
export type UwsBuild = 'current' | 'legacy';

export type UwsModule = typeof import('uWebSockets.js');

const PACKAGES: Record<UwsBuild, string> = {
  current: 'uws-current',
  legacy: 'uWebSockets.js',
};

const loaded = new Map<UwsBuild, UwsModule | null>();
const loadErrors = new Map<UwsBuild, string>();

/** Node 20's module ABI: the old build carries binaries up to it (on newer Node it falls back to JS). */
const LEGACY_MAX_ABI = 115;

/**
 * The largest request head uWS accepts (request line and headers), read by its binary once, when
 * it loads (4 KiB unless set): gw sets it to the config's `max_header_bytes` first. uWS answers a
 * larger head with 431 itself, a long target included (node:http's front tells 414 apart). It
 * stays at the limit, not above it: a request whose headers gw reads by name alone (front-uws.ts)
 * has no other bound on its head.
 */
export function setUwsHeadLimit(maxHeaderBytes: number): void {
  process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(Math.max(4096, maxHeaderBytes));
}

/** Loads a uWebSockets.js build once; null when its native binary does not load here. */
export function loadUws(build: UwsBuild): UwsModule | null {
  const known = loaded.get(build);
  if (known !== undefined) return known;
  let mod: UwsModule | null = null;
  if (build === 'legacy' && Number(process.versions.modules) > LEGACY_MAX_ABI) {
    loadErrors.set(build, `it has no binary for Node ${process.versions.node}`);
    loaded.set(build, null);
    return null;
  }
  try {
    mod = createRequire(import.meta.url)(PACKAGES[build]) as UwsModule;
  } catch (err) {
    loadErrors.set(build, firstLine(err));
  }
  loaded.set(build, mod);
  return mod;
}

/** The line of a load error that says why: a glibc too old, another Node ABI, a missing package. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const glibc = /version `(GLIBC_[\d.]+)' not found/.exec(text);
  if (glibc !== null) return `it needs ${glibc[1]}`;
  const cause = lines.find((l) => /invalid ELF|NODE_MODULE_VERSION|Cannot find module/i.test(l));
  return (cause ?? lines.at(-1) ?? text).replace(/^Error: /, '').trim();
}

/** Whether node:http servers in several worker threads can share one port (Node ≥ 22.12). */
export function nodeSharesPort(version: string = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

export interface FrontChoice {
  kind: FrontKind;
  /** The uWS build, with kind 'uws'. */
  build?: UwsBuild;
  /** Worker threads that serve. */
  workers: number;
  /** Why this front, for the start line. */
  reason: string;
  /** Said once at start as a warning: what this front cannot do. */
  warning?: string;
}

const LEGACY_GAPS =
  'the old uWebSockets.js build gives no answer to HTTP/1.0 requests, header names with `_` or `.`, ' +
  'more than 48 headers, unknown methods and absolute-form targets';

/**
 * The front for `requested`, with `workers` wanted; `tlsNeedsNode` names a TLS setting only
 * node:https serves.
 */
export function chooseFront(
  requested: FrontRequest,
  workers: number,
  tlsNeedsNode?: string,
  http2?: string,
): FrontChoice {
  const nodeFront = (reason: string, warning?: string): FrontChoice => {
    if (workers > 1 && !nodeSharesPort())
      return {
        kind: 'node',
        workers: 1,
        reason: `${reason}; Node ${process.versions.node} cannot share a port between worker threads (Node ≥ 22.12 can), so 1 worker serves`,
        warning,
      };
    return { kind: 'node', workers, reason, warning };
  };
  if (requested === 'node') return nodeFront('node:http, as asked');
  if (tlsNeedsNode !== undefined) return nodeFront(`${tlsNeedsNode} needs the node:https front`);
  if (http2 !== undefined && requested === 'auto')
    return nodeFront(`HTTP/2 (${http2}) is served by node:http2`);
  const noHttp2 =
    http2 === undefined ? undefined : `uWebSockets.js serves no HTTP/2 (${http2}): clients speak HTTP/1.1`;
  if (loadUws('current') !== null)
    return {
      kind: 'uws',
      build: 'current',
      workers,
      reason: 'uWebSockets.js (current build)',
      warning: noHttp2,
    };
  const why = `the current uWebSockets.js build does not load here (${loadErrors.get('current')})`;
  if (requested === 'uws') {
    if (loadUws('legacy') !== null)
      return {
        kind: 'uws',
        build: 'legacy',
        workers,
        reason: `the old uWebSockets.js build, as asked: ${why}`,
        warning: `${LEGACY_GAPS}; without --front uws, node:http serves them${noHttp2 === undefined ? '' : `; ${noHttp2}`}`,
      };
    return nodeFront(`node:http: no uWebSockets.js build loads here (${loadErrors.get('legacy')})`);
  }
  return nodeFront(`node:http: ${why}`);
}

/** `max_header_bytes`, 1 MB by default as in KrakenD: the largest request head served. */
export function headLimitOf(service: ServiceConfig): number {
  const v = service.max_header_bytes;
  return typeof v === 'number' && v > 0 ? v : 1024 * 1024;
}
