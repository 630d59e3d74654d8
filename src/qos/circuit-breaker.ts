// `qos/circuit-breaker` (backend): the "Circuit Breaker" page. CLOSED lets calls through and counts
// consecutive errors (reset every `interval` seconds and on any success); more than `max_errors`
// opens it: calls fail at once for `timeout` seconds; then HALF-OPEN lets exactly one probe through,
// whose success closes it and whose failure opens it again. `log_status_change` logs transitions.
// An error is anything the wrapped stage throws: network, timeouts, non-200/201 statuses and
// decoding (the core throws those, except for no-op), inner middlewares (proxy rate limit…).
//
// The state lives in a SharedArrayBuffer prepared on the main thread, so the gateway's worker
// threads share one breaker per backend as a single KrakenD process does. With several hosts
// each host has its own breaker; the round-robin skips hosts whose breaker is open and the
// backend only refuses when all of them are (src/qos/balancer.ts).

import type { Logger } from 'pino';
import { sanitizeHost } from '../proxy/util.js';
import {
  BackendError,
  type BackendMiddleware,
  type CompileContext,
  type ConfigIssue,
  type FeatureModule,
  type ServiceConfig,
} from '../types.js';
import { balancerOf, pinHost } from './balancer.js';
import { durationMs, HOUR_MS, Issues, isObject } from './util.js';

export const CIRCUIT_BREAKER_NAMESPACE = 'qos/circuit-breaker';

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const STATE_NAMES = ['closed', 'open', 'half-open'];

// One breaker = 64 bytes (a cache line): i32 [state, errors, generation] then f64 at byte 16
// [openUntil, intervalStart] (ms, Date.now()).
const UNIT_BYTES = 64;

export interface SharedBreakers {
  buffer: SharedArrayBuffer;
  /** First unit of each configured backend, by JSON path; one unit per distinct host. */
  units: Record<string, number>;
}

/** The distinct hosts of a backend, in order of first appearance. */
function distinctHosts(service: ServiceConfig, backend: { host?: string[] } | undefined): string[] {
  const hosts = backend?.host && backend.host.length > 0 ? backend.host : (service.host ?? []);
  return [...new Set(hosts.map((h) => sanitizeHost(h)))];
}

export function layoutBreakers(service: ServiceConfig): SharedBreakers | undefined {
  const units: Record<string, number> = {};
  let next = 0;
  (service.endpoints ?? []).forEach((ep, i) => {
    (ep.backend ?? []).forEach((b, j) => {
      if (!b.extra_config || !(CIRCUIT_BREAKER_NAMESPACE in b.extra_config)) return;
      units[`$.endpoints[${i}].backend[${j}].extra_config["${CIRCUIT_BREAKER_NAMESPACE}"]`] = next;
      next += Math.max(1, distinctHosts(service, b).length);
    });
  });
  if (next === 0) return undefined;
  return { buffer: new SharedArrayBuffer(next * UNIT_BYTES), units };
}

export interface BreakerOptions {
  intervalMs: number;
  timeoutMs: number;
  maxErrors: number;
  onChange?: (from: string, to: string) => void;
}

/** Ticket of an allowed call: its generation, and whether it is the half-open probe. */
const DENIED = -1;

/** One breaker over 64 bytes of shared memory; every method is safe across threads. */
export class SharedBreaker {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  constructor(
    buffer: SharedArrayBuffer,
    unit: number,
    private readonly opts: BreakerOptions,
  ) {
    this.i32 = new Int32Array(buffer, unit * UNIT_BYTES, 4);
    this.f64 = new Float64Array(buffer, unit * UNIT_BYTES + 16, 2);
  }

  state(): string {
    return STATE_NAMES[Atomics.load(this.i32, 0)];
  }

  /** Whether a call would be let through now (no side effect), for the balancer. */
  available(now: number): boolean {
    const s = Atomics.load(this.i32, 0);
    return s === CLOSED || (s === OPEN && now >= this.f64[0]);
  }

  /** DENIED, or a ticket: generation × 2 (+1 for the half-open probe) for report(). */
  allow(now: number): number {
    const s = Atomics.load(this.i32, 0);
    if (s === CLOSED) return Atomics.load(this.i32, 2) * 2;
    if (s === OPEN && now >= this.f64[0] && Atomics.compareExchange(this.i32, 0, OPEN, HALF_OPEN) === OPEN) {
      const gen = Atomics.add(this.i32, 2, 1) + 1;
      this.opts.onChange?.('open', 'half-open');
      return gen * 2 + 1;
    }
    return DENIED;
  }

  report(ticket: number, ok: boolean, now: number): void {
    const gen = ticket >> 1;
    if (Atomics.load(this.i32, 2) !== gen) return; // the state changed since: a stale result
    if ((ticket & 1) === 1) {
      // The probe decides alone.
      if (ok) {
        Atomics.store(this.i32, 1, 0);
        this.f64[1] = now;
        this.transition(HALF_OPEN, CLOSED);
      } else {
        this.f64[0] = now + this.opts.timeoutMs;
        this.transition(HALF_OPEN, OPEN);
      }
      return;
    }
    if (ok) {
      if (Atomics.load(this.i32, 1) !== 0) Atomics.store(this.i32, 1, 0);
      return;
    }
    if (now - this.f64[1] >= this.opts.intervalMs) {
      // A new interval: counts start over (gobreaker clears them every `interval`).
      this.f64[1] = now;
      Atomics.store(this.i32, 1, 0);
    }
    const errors = Atomics.add(this.i32, 1, 1) + 1;
    if (errors > this.opts.maxErrors) {
      this.f64[0] = now + this.opts.timeoutMs;
      if (this.transition(CLOSED, OPEN)) Atomics.store(this.i32, 1, 0);
    }
  }

  private transition(from: number, to: number): boolean {
    if (Atomics.compareExchange(this.i32, 0, from, to) !== from) return false;
    Atomics.add(this.i32, 2, 1);
    this.opts.onChange?.(STATE_NAMES[from], STATE_NAMES[to]);
    return true;
  }
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) {
    v.add('', 'expected an object like {"interval": 60, "timeout": 10, "max_errors": 1}');
    return v.list;
  }
  v.duration(raw, 'interval', 24 * 365 * HOUR_MS, true);
  v.duration(raw, 'timeout', 24 * 365 * HOUR_MS, true);
  v.number(raw, 'max_errors', { min: 1, max: 1e9, integer: true });
  v.string(raw, 'name');
  v.boolean(raw, 'log_status_change');
  for (const k of ['interval', 'timeout', 'max_errors']) if (raw[k] === undefined) v.add(k, 'is required');
  return v.list;
}

function transitionLogger(
  logger: Logger,
  enabled: boolean,
  label: string,
  name: string,
  host: string | undefined,
) {
  if (!enabled) return undefined;
  const where = host ? ` (host ${host})` : '';
  return (from: string, to: string) =>
    logger.warn(
      `[BACKEND: ${label}][CB] Circuit breaker named '${name}'${where} went from '${from}' to '${to}'`,
    );
}

const localLayouts = new WeakMap<ServiceConfig, SharedBreakers | undefined>();

function backend(raw: unknown, ctx: CompileContext): BackendMiddleware | undefined {
  if (!isObject(raw)) return undefined;
  let shared = ctx.shared[CIRCUIT_BREAKER_NAMESPACE] as SharedBreakers | undefined;
  if (!shared?.buffer) {
    if (!localLayouts.has(ctx.service)) localLayouts.set(ctx.service, layoutBreakers(ctx.service));
    shared = localLayouts.get(ctx.service);
  }
  const first = shared?.units[ctx.path];
  if (!shared || first === undefined) return undefined;
  const label = `${ctx.backend?.method ?? ctx.endpoint?.method ?? 'GET'} ${ctx.backend?.url_pattern ?? ''}`;
  const name = typeof raw.name === 'string' ? raw.name : `${ctx.endpoint?.endpoint ?? ''} ${label}`;
  const logChanges = raw.log_status_change === true;
  const base = {
    intervalMs: durationMs(raw.interval, true) ?? 60_000,
    timeoutMs: durationMs(raw.timeout, true) ?? 10_000,
    maxErrors: typeof raw.max_errors === 'number' ? raw.max_errors : 1,
  };
  const distinct = distinctHosts(ctx.service, ctx.backend);
  const balancer = balancerOf(ctx.backend);
  const openError = () => new BackendError('circuit breaker is open', 503);

  if (distinct.length <= 1 || !balancer) {
    const breaker = new SharedBreaker(shared.buffer, first, {
      ...base,
      onChange: transitionLogger(ctx.logger, logChanges, label, name, undefined),
    });
    return (next) => async (breq) => {
      const ticket = breaker.allow(Date.now());
      if (ticket === DENIED) throw openError();
      try {
        const res = await next(breq);
        breaker.report(ticket, true, Date.now());
        return res;
      } catch (err) {
        breaker.report(ticket, false, Date.now());
        throw err;
      }
    };
  }

  // Several hosts: one breaker per distinct host; host list entries map onto them.
  const breakers = distinct.map(
    (host, i) =>
      new SharedBreaker(shared.buffer, first + i, {
        ...base,
        onChange: transitionLogger(ctx.logger, logChanges, label, name, host),
      }),
  );
  const byIndex = balancer.hosts.map((h) => breakers[distinct.indexOf(sanitizeHost(h))] ?? breakers[0]);
  return (next) => async (breq) => {
    const now = Date.now();
    let ticket = DENIED;
    const index = balancer.nextUsable((i) => {
      if (!byIndex[i].available(now)) return false;
      ticket = byIndex[i].allow(now);
      return ticket !== DENIED;
    });
    if (index < 0) throw openError();
    const breaker = byIndex[index];
    try {
      const res = await next(pinHost(breq, index));
      breaker.report(ticket, true, Date.now());
      return res;
    } catch (err) {
      breaker.report(ticket, false, Date.now());
      throw err;
    }
  };
}

export const circuitBreakerModule: FeatureModule = {
  namespace: CIRCUIT_BREAKER_NAMESPACE,
  schema: { type: 'object' },
  validate,
  prepareShared: layoutBreakers,
  backend,
  bytesOnly: true,
};
