// `qos/ratelimit/router` (endpoint) and `qos/ratelimit/service` (whole service): the pages "Rate
// Limiting API Gateway Endpoints" and "Service Rate Limiting". `max_rate` is one bucket shared by
// all clients (exceeded → 503), `client_max_rate` one bucket per client (exceeded → 429), both
// refilled per `every` (default 1s) and holding `capacity` / `client_capacity` tokens (default: the
// rate). The buckets are in shared memory (src/qos/buckets.ts): a limit of N is N across all worker
// threads. As in KrakenD, the client bucket is checked first, then the endpoint's.
// gw extension: `max_clients` bounds the client table (default 65536 clients, ~1.2 MB).

import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
  ServiceConfig,
} from '../types.js';
import {
  compileLimiter,
  type Limiter,
  type LimitSpec,
  layoutBuckets,
  limitSpec,
  MAX_MAX_CLIENTS,
  sharedOrLocal,
} from './buckets.js';
import { type ClientKey, clientKeyHeaders, compileClientKey, validateClientKey } from './client-key.js';
import { durationMs, Issues, isObject, MAX_CAPACITY, MAX_EVERY_MS, MAX_RATE, type Obj } from './util.js';

export const ROUTER_NAMESPACE = 'qos/ratelimit/router';
export const SERVICE_NAMESPACE = 'qos/ratelimit/service';

const MAX_INTERVAL_NS = 2 ** 53;
const MAX_TOLERANCE_NS = 2 ** 62;

/** Rates, capacities and `every` of any qos/ratelimit/* config, with their JSON paths. */
export function validateRates(cfg: Obj, v: Issues, withClient: boolean): void {
  v.duration(cfg, 'every', MAX_EVERY_MS);
  const rates: Array<[string, string]> = [['max_rate', 'capacity']];
  if (withClient) rates.push(['client_max_rate', 'client_capacity']);
  const everyMs = durationMs(cfg.every) ?? 1000;
  for (const [rateKey, capKey] of rates) {
    v.number(cfg, rateKey, { min: 1e-9, max: MAX_RATE, allowZero: true });
    v.number(cfg, capKey, { min: 1, max: MAX_CAPACITY, integer: true });
    const rate = cfg[rateKey];
    if (typeof rate !== 'number' || !(rate >= 1e-9) || rate > MAX_RATE || !(everyMs > 0)) continue;
    const intervalNs = (everyMs * 1e6) / rate;
    if (intervalNs < 1)
      v.add(rateKey, `${rate} per ${cfg.every ?? '1s'} is more than one request per nanosecond`);
    else if (intervalNs > MAX_INTERVAL_NS)
      v.add(
        rateKey,
        `${rate} per ${cfg.every ?? '1s'} is less than one request every 104 days: use a larger rate or a shorter "every"`,
      );
    else {
      const cap = typeof cfg[capKey] === 'number' ? (cfg[capKey] as number) : Math.max(1, rate);
      if (intervalNs * cap > MAX_TOLERANCE_NS)
        v.add(capKey, `a capacity of ${cap} at this rate spans more than 146 years`);
    }
  }
  if (withClient) {
    v.number(cfg, 'max_clients', { min: 1, max: MAX_MAX_CLIENTS, integer: true });
    validateClientKey(cfg, v);
  }
}

export function validateRouterLimit(raw: unknown, path: string): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) {
    v.add('', 'expected an object like {"max_rate": 50, "client_max_rate": 5, "every": "1s"}');
    return v.list;
  }
  validateRates(raw, v, true);
  return v.list;
}

function status(code: number): GwResponse {
  return { status: code, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '' };
}

/**
 * The router-layer middleware of one limit, specialised for what it limits. Its check is also its
 * guard: a limit admits or refuses, and never changes the request (the pipeline runs the check).
 */
export function limitMiddleware(
  spec: LimitSpec,
  limiter: Limiter,
  clientKey: ClientKey,
  keyHeaders: readonly string[],
): EndpointMiddleware | undefined {
  const { takeShared, takeClient, takeBoth } = limiter;
  // Fresh objects per refusal: later layers (CORS, headers…) may add to them.
  let check: (req: GwRequest) => GwResponse | undefined;
  if (spec.client && spec.shared)
    check = (req) => {
      const key = clientKey(req);
      if (key === undefined) return status(429);
      const verdict = takeBoth(key);
      return verdict === 0 ? undefined : status(verdict);
    };
  else if (spec.client)
    check = (req) => {
      const key = clientKey(req);
      return key === undefined || !takeClient(key) ? status(429) : undefined;
    };
  else if (spec.shared) check = () => (takeShared() ? undefined : status(503));
  else return undefined;
  const middleware: EndpointMiddleware = (next) => (req) => {
    const refused = check(req);
    return refused === undefined ? next(req) : Promise.resolve(refused);
  };
  middleware.guard = { check, headers: spec.client ? keyHeaders : [] };
  return middleware;
}

function compile(namespace: string) {
  return (raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined => {
    if (!isObject(raw)) return undefined;
    const spec = limitSpec(raw, true);
    if (!spec.shared && !spec.client) return undefined;
    const shared = sharedOrLocal(ctx.shared, ctx.service, namespace, true);
    if (!shared) return undefined;
    const limiter = compileLimiter(shared, ctx.path, spec);
    return limitMiddleware(spec, limiter, compileClientKey(raw), clientKeyHeaders(raw));
  };
}

export const routerRateLimitModule: FeatureModule = {
  namespace: ROUTER_NAMESPACE,
  schema: { type: 'object' },
  validate: validateRouterLimit,
  prepareShared: (service: ServiceConfig) => layoutBuckets(service, ROUTER_NAMESPACE, true),
  endpoint: compile(ROUTER_NAMESPACE),
};

export const serviceRateLimitModule: FeatureModule = {
  namespace: SERVICE_NAMESPACE,
  schema: { type: 'object' },
  validate: validateRouterLimit,
  prepareShared: (service: ServiceConfig) => layoutBuckets(service, SERVICE_NAMESPACE, true),
  service: compile(SERVICE_NAMESPACE),
};
