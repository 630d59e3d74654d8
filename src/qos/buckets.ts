// Token buckets shared by every worker thread: the main thread lays out one shared
// WebAssembly.Memory per rate-limit namespace (prepareShared), each worker instantiates
// build/ratelimit.wasm over it, and every limit of the config gets a fixed region of it:
// a 64-byte cell for a shared bucket (max_rate) and a table of client buckets (client_max_rate).
// The algorithm (GCRA on one i64 per bucket) is explained in wasm/ratelimit.ts; this file has
// the same algorithm in TypeScript with Atomics, used when the WASM file is missing and as the
// reference the tests compare the WASM module against.

import { readFileSync } from 'node:fs';
import type { ServiceConfig } from '../types.js';
import { durationMs, isObject, MAX_CAPACITY, MAX_EVERY_MS, MAX_RATE, type Obj } from './util.js';

/** One token bucket's parameters: a token every `intervalNs`, at most `burst` tokens. */
export interface RateSpec {
  intervalNs: number;
  burst: number;
}

/** Where one limit's buckets are in the shared memory. */
export interface LimitRegion {
  /** Byte offset of the shared bucket (max_rate), when there is one. */
  cell?: number;
  /** Byte offset and group count of the client table (client_max_rate), when there is one. */
  table?: number;
  groups?: number;
}

/** What prepareShared hands to every worker (structured-clone safe: the memory is shared). */
export interface SharedBuckets {
  memory: WebAssembly.Memory;
  /** performance.timeOrigin + performance.now() of the main thread at layout time. */
  epochMs: number;
  /** Regions by the JSON path of the limit's config (`$.endpoints[0].extra_config["…"]`). */
  regions: Record<string, LimitRegion>;
}

export const GROUP_BYTES = 128;
export const SLOTS_PER_GROUP = 7;
const CELL_BYTES = 64; // one cache line per shared bucket: no false sharing between limits
const FIRST_OFFSET = 1024;
const PAGE = 65536;
/** Default bound of a client table: ~1.2 MB of shared memory. */
export const DEFAULT_MAX_CLIENTS = 65536;
export const MAX_MAX_CLIENTS = 16_777_216;
/** WebAssembly's 32-bit memories stop at 4 GiB; keep well under. */
const MAX_BYTES = 2 ** 31;

/** max_rate per `every` → a token every N ns (rounded, at least 1). */
export function rateSpec(maxRate: number, everyMs: number, capacity: number | undefined): RateSpec {
  const intervalNs = Math.max(1, Math.round((everyMs * 1e6) / maxRate));
  const burst =
    capacity !== undefined && capacity > 0 ? Math.floor(capacity) : Math.max(1, Math.floor(maxRate));
  return { intervalNs, burst };
}

/**
 * The two buckets a `qos/ratelimit/*` config describes (KrakenD defaults: every 1s, capacity =
 * max_rate, client_capacity = client_max_rate; a rate of 0 means no limit).
 */
export interface LimitSpec {
  shared?: RateSpec;
  client?: RateSpec;
  maxClients: number;
}

export function limitSpec(cfg: Obj, withClient: boolean): LimitSpec {
  const every = durationMs(cfg.every) ?? 1000;
  const everyMs = every > 0 && every <= MAX_EVERY_MS ? every : 1000;
  const rate = (k: string) => {
    const v = cfg[k];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_RATE ? v : 0;
  };
  const cap = (k: string) => {
    const v = cfg[k];
    return typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= MAX_CAPACITY ? v : undefined;
  };
  const maxRate = rate('max_rate');
  const clientRate = withClient ? rate('client_max_rate') : 0;
  const maxClients =
    typeof cfg.max_clients === 'number' && cfg.max_clients >= 1 && cfg.max_clients <= MAX_MAX_CLIENTS
      ? Math.floor(cfg.max_clients)
      : DEFAULT_MAX_CLIENTS;
  return {
    shared: maxRate > 0 ? rateSpec(maxRate, everyMs, cap('capacity')) : undefined,
    client: clientRate > 0 ? rateSpec(clientRate, everyMs, cap('client_capacity')) : undefined,
    maxClients,
  };
}

/** Every place a namespace is configured: service root, endpoints, backends, with its JSON path. */
export function scopesOf(service: ServiceConfig, namespace: string): Array<{ path: string; cfg: unknown }> {
  const out: Array<{ path: string; cfg: unknown }> = [];
  const key = `extra_config["${namespace}"]`;
  if (service.extra_config && namespace in service.extra_config)
    out.push({ path: `$.${key}`, cfg: service.extra_config[namespace] });
  (service.endpoints ?? []).forEach((ep, i) => {
    if (ep.extra_config && namespace in ep.extra_config)
      out.push({ path: `$.endpoints[${i}].${key}`, cfg: ep.extra_config[namespace] });
    (ep.backend ?? []).forEach((b, j) => {
      if (b.extra_config && namespace in b.extra_config)
        out.push({ path: `$.endpoints[${i}].backend[${j}].${key}`, cfg: b.extra_config[namespace] });
    });
  });
  return out;
}

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Lays out the buckets of every limit of `namespace`; undefined when it has none. */
export function layoutBuckets(
  service: ServiceConfig,
  namespace: string,
  withClient: boolean,
  wanted: (cfg: Obj) => boolean = () => true,
): SharedBuckets | undefined {
  const regions: Record<string, LimitRegion> = {};
  let offset = FIRST_OFFSET;
  for (const { path, cfg } of scopesOf(service, namespace)) {
    if (!isObject(cfg) || !wanted(cfg)) continue;
    const spec = limitSpec(cfg, withClient);
    const region: LimitRegion = {};
    if (spec.shared) {
      region.cell = offset;
      offset += CELL_BYTES;
    }
    if (spec.client) {
      const groups = Math.ceil(spec.maxClients / SLOTS_PER_GROUP);
      region.table = offset;
      region.groups = groups;
      offset += groups * GROUP_BYTES;
    }
    if (offset > MAX_BYTES)
      throw new Error(`${path}: rate-limit tables exceed ${MAX_BYTES / 2 ** 20} MiB of shared memory`);
    regions[path] = region;
  }
  if (Object.keys(regions).length === 0) return undefined;
  const pages = Math.ceil(offset / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return { memory, epochMs: wallNow(), regions };
}

// ---- the per-thread engine -------------------------------------------------------------------

export interface BucketEngine {
  take(cell: number, nowMs: number, intervalNs: number, burst: number): number;
  takeKey(
    table: number,
    groups: number,
    hi: number,
    lo: number,
    nowMs: number,
    intervalNs: number,
    burst: number,
  ): number;
}

const WASM_URL = new URL('../../build/ratelimit.wasm', import.meta.url);
let wasmModule: WebAssembly.Module | null | undefined;

function loadModule(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    try {
      wasmModule = new WebAssembly.Module(readFileSync(WASM_URL));
    } catch {
      wasmModule = null;
    }
  }
  return wasmModule;
}

const engines = new WeakMap<WebAssembly.Memory, BucketEngine>();

/** The thread's engine over `memory`: the WASM module, or the TypeScript one when it is missing. */
export function engineFor(memory: WebAssembly.Memory, prefer: 'wasm' | 'js' = 'wasm'): BucketEngine {
  if (prefer === 'js') return new AtomicsBuckets(memory.buffer);
  let engine = engines.get(memory);
  if (!engine) {
    const mod = loadModule();
    engine = mod
      ? (new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as BucketEngine)
      : new AtomicsBuckets(memory.buffer);
    engines.set(memory, engine);
  }
  return engine;
}

export function wasmAvailable(): boolean {
  return loadModule() !== null;
}

/**
 * The same algorithm as wasm/ratelimit.ts over the same memory layout, with Atomics: correct
 * across threads, slower (BigInt arithmetic).
 */
export class AtomicsBuckets implements BucketEngine {
  private readonly i64: BigInt64Array;
  private readonly i32: Int32Array;
  constructor(buffer: ArrayBufferLike) {
    this.i64 = new BigInt64Array(buffer);
    this.i32 = new Int32Array(buffer);
  }

  take(cell: number, nowMs: number, intervalNs: number, burst: number): number {
    const now = BigInt(Math.trunc(nowMs * 1e6));
    const interval = BigInt(intervalNs);
    const tolerance = interval * BigInt(burst - 1);
    const idx = cell >>> 3;
    let tat = Atomics.load(this.i64, idx);
    for (;;) {
      const start = tat > now ? tat : now;
      if (start - now > tolerance) return 0;
      const seen = Atomics.compareExchange(this.i64, idx, tat, start + interval);
      if (seen === tat) return 1;
      tat = seen;
    }
  }

  takeKey(
    table: number,
    groups: number,
    hi: number,
    lo: number,
    nowMs: number,
    intervalNs: number,
    burst: number,
  ): number {
    let key = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    if (key === 0n) key = 1n;
    const now = BigInt(Math.trunc(nowMs * 1e6));
    const interval = BigInt(intervalNs);
    const tolerance = interval * BigInt(burst - 1);
    const group = table + (((lo ^ (hi >>> 7)) >>> 0) % groups) * GROUP_BYTES;
    const lockIdx = group >>> 2;
    while (Atomics.compareExchange(this.i32, lockIdx, 0, 1) !== 0) {
      // spin, as the WASM module does
    }
    try {
      let free = -1;
      let oldest = -1;
      let oldestTat = BigInt.asIntN(64, (1n << 63n) - 1n);
      for (let i = 0; i < SLOTS_PER_GROUP; i++) {
        const slot = (group + 16 + i * 16) >>> 3;
        const k = Atomics.load(this.i64, slot);
        const tat = Atomics.load(this.i64, slot + 1);
        if (k === key) {
          const start = tat > now ? tat : now;
          if (start - now > tolerance) return 0;
          Atomics.store(this.i64, slot + 1, start + interval);
          return 1;
        }
        if (free < 0 && (k === 0n || tat <= now)) free = slot;
        if (tat < oldestTat) {
          oldestTat = tat;
          oldest = slot;
        }
      }
      const slot = free >= 0 ? free : oldest;
      Atomics.store(this.i64, slot, key);
      Atomics.store(this.i64, slot + 1, now + interval);
      return burst > 0 ? 1 : 0;
    } finally {
      Atomics.store(this.i32, lockIdx, 0);
    }
  }
}

// ---- keys ------------------------------------------------------------------------------------

/** High and low 32 bits of the last hashKey() (no allocation per request). */
export let keyHi = 0;
export let keyLo = 0;

/** A 64-bit hash of a client key (cyrb53's mixing, both halves kept). */
export function hashKey(s: string): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  keyHi = h2 >>> 0;
  keyLo = h1 >>> 0;
}

// ---- compiled limiters -------------------------------------------------------------------------

/** Milliseconds since the layout's epoch, on this thread's monotonic clock. */
export function clockFor(shared: SharedBuckets): () => number {
  const offset = performance.timeOrigin - shared.epochMs;
  return () => offset + performance.now();
}

export interface Limiter {
  /** Shared bucket: true when the request may pass (always true without max_rate). */
  takeShared(): boolean;
  /** Client bucket of `key`: true when the request may pass (always true without client_max_rate). */
  takeClient(key: string): boolean;
  /** Client bucket then shared bucket on one clock read: 0 pass, 429 client, 503 shared. */
  takeBoth(key: string): number;
}

/** The limiter of the limit configured at `path`, over its region of `shared`. */
export function compileLimiter(
  shared: SharedBuckets,
  path: string,
  spec: LimitSpec,
  prefer: 'wasm' | 'js' = 'wasm',
): Limiter {
  const region = shared.regions[path];
  if (!region) throw new Error(`${path}: no rate-limit region was laid out for this limit`);
  const engine = engineFor(shared.memory, prefer);
  const now = clockFor(shared);
  const yes = () => true;
  let takeShared: () => boolean = yes;
  let takeClient: (key: string) => boolean = yes;
  let takeBoth = (key: string) => (!takeClient(key) ? 429 : !takeShared() ? 503 : 0);
  if (spec.shared && region.cell !== undefined) {
    const { intervalNs, burst } = spec.shared;
    const cell = region.cell;
    takeShared = () => engine.take(cell, now(), intervalNs, burst) === 1;
  }
  if (spec.client && region.table !== undefined && region.groups !== undefined) {
    const { intervalNs, burst } = spec.client;
    const table = region.table;
    const groups = region.groups;
    takeClient = (key) => {
      hashKey(key);
      return engine.takeKey(table, groups, keyHi, keyLo, now(), intervalNs, burst) === 1;
    };
    if (spec.shared && region.cell !== undefined) {
      const cell = region.cell;
      const sharedInterval = spec.shared.intervalNs;
      const sharedBurst = spec.shared.burst;
      takeBoth = (key) => {
        const t = now();
        hashKey(key);
        if (engine.takeKey(table, groups, keyHi, keyLo, t, intervalNs, burst) !== 1) return 429;
        return engine.take(cell, t, sharedInterval, sharedBurst) === 1 ? 0 : 503;
      };
    }
  }
  return { takeShared, takeClient, takeBoth };
}

const localLayouts = new WeakMap<ServiceConfig, Map<string, SharedBuckets | undefined>>();

/**
 * The namespace's shared buckets from ctx.shared, or (when the host did not prepare them, e.g.
 * a test compiling one app) a layout local to this thread, made once per service.
 */
export function sharedOrLocal(
  shared: Record<string, unknown>,
  service: ServiceConfig,
  namespace: string,
  withClient: boolean,
): SharedBuckets | undefined {
  const given = shared[namespace] as SharedBuckets | undefined;
  if (given?.memory && given.regions) return given;
  let byNs = localLayouts.get(service);
  if (!byNs) {
    byNs = new Map();
    localLayouts.set(service, byNs);
  }
  if (!byNs.has(namespace)) byNs.set(namespace, layoutBuckets(service, namespace, withClient));
  return byNs.get(namespace);
}
