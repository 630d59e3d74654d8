// Cluster-wide rate limits on Redis, for deployments of several gw nodes: the pages "Redis
// connection pools", "Stateful endpoint rate limit" and "Stateful service rate limit".
//   redis                          (service) connection_pools [{name, address, db, …}], clusters [{name, addresses, …}]
//   qos/ratelimit/router/redis     (endpoint) the router limit's fields + connection_name, on_failure_allow
//   qos/ratelimit/service/redis    (service)  the same for the whole service
// Each decision is one atomic Lua script (GCRA on both buckets, Redis' own clock, keys that expire
// when their bucket is full again, so Redis holds only active clients). One client per pool per
// worker thread (ioredis, offline queue off: an unreachable Redis fails fast).
// When Redis is unreachable: `on_failure_allow: true` falls back to this node's shared-memory
// buckets (the same limits, counted per node); otherwise requests are refused with 503. Both
// transitions are logged once.

import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
  ServiceConfig,
} from '../types.js';
import { compileLimiter, layoutBuckets, limitSpec, sharedOrLocal } from './buckets.js';
import { compileClientKey } from './client-key.js';
import { validateRates } from './ratelimit-router.js';
import { durationMs, HOUR_MS, Issues, isObject, type Obj } from './util.js';

export const REDIS_NAMESPACE = 'redis';
export const ROUTER_REDIS_NAMESPACE = 'qos/ratelimit/router/redis';
export const SERVICE_REDIS_NAMESPACE = 'qos/ratelimit/service/redis';

const DEFAULT_COMMAND_TIMEOUT_MS = 500;
const DEFAULT_DIAL_TIMEOUT_MS = 5000;

// ---- the `redis` namespace: pools ---------------------------------------------------------------

type RedisClient = Redis | Cluster;

interface PoolConfig {
  name: string;
  cluster: boolean;
  cfg: Obj;
}

function poolsOf(service: ServiceConfig): PoolConfig[] {
  const redis = service.extra_config?.[REDIS_NAMESPACE];
  if (!isObject(redis)) return [];
  const out: PoolConfig[] = [];
  // `nodes` with `host`: the legacy spelling the migration guide shows.
  for (const [list, cluster] of [
    ['connection_pools', false],
    ['nodes', false],
    ['clusters', true],
  ] as const) {
    const items = redis[list];
    if (!Array.isArray(items)) continue;
    for (const item of items)
      if (isObject(item) && typeof item.name === 'string') out.push({ name: item.name, cluster, cfg: item });
  }
  return out;
}

function hostPort(address: string): { host: string; port: number } {
  const m = /^(?:redis:\/\/)?\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address.trim());
  return { host: m?.[1] || '127.0.0.1', port: m?.[2] ? Number(m[2]) : 6379 };
}

function clientOptions(cfg: Obj) {
  return {
    username: typeof cfg.username === 'string' ? cfg.username : undefined,
    password: typeof cfg.password === 'string' ? cfg.password : undefined,
    connectionName: typeof cfg.client_name === 'string' ? cfg.client_name : undefined,
    connectTimeout: durationMs(cfg.dial_timeout) ?? DEFAULT_DIAL_TIMEOUT_MS,
    commandTimeout: durationMs(cfg.read_timeout) ?? DEFAULT_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
}

function createClient(pool: PoolConfig): RedisClient {
  const { cfg } = pool;
  if (pool.cluster) {
    const addresses = Array.isArray(cfg.addresses)
      ? cfg.addresses.filter((a): a is string => typeof a === 'string')
      : [];
    const opts = clientOptions(cfg);
    return new Cluster(addresses.map(hostPort), {
      enableOfflineQueue: false,
      maxRedirections: typeof cfg.max_redirects === 'number' ? cfg.max_redirects : 16,
      clusterRetryStrategy: opts.retryStrategy,
      redisOptions: opts,
    });
  }
  const address =
    typeof cfg.address === 'string'
      ? cfg.address
      : typeof cfg.host === 'string'
        ? cfg.host
        : '127.0.0.1:6379';
  return new Redis({
    ...hostPort(address),
    db: typeof cfg.db === 'number' ? cfg.db : 0,
    ...clientOptions(cfg),
  });
}

interface PoolClient {
  client: RedisClient;
  /** Settles on the first 'ready', or after the dial timeout: requests arriving while the
   * connection is first being made wait for it instead of failing over. */
  firstReady: Promise<void>;
}

const clients = new WeakMap<ServiceConfig, Map<string, PoolClient>>();

/** The thread's client of pool `name` (created once, closed with the app); undefined if unknown. */
function clientFor(ctx: CompileContext, name: string): PoolClient | undefined {
  let byName = clients.get(ctx.service);
  if (!byName) {
    byName = new Map();
    clients.set(ctx.service, byName);
  }
  const existing = byName.get(name);
  if (existing) return existing;
  const pool = poolsOf(ctx.service).find((p) => p.name === name);
  if (!pool) return undefined;
  const created = createClient(pool);
  const dialMs = durationMs(pool.cfg.dial_timeout) ?? DEFAULT_DIAL_TIMEOUT_MS;
  const firstReady = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, dialMs);
    timer.unref();
    created.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  let lastError = '';
  // ioredis emits 'error' on every failed reconnect: log each distinct error once.
  created.on('error', (err: Error) => {
    if (err.message === lastError) return;
    lastError = err.message;
    ctx.logger.warn(`[REDIS] pool "${name}": ${err.message}`);
  });
  created.on('ready', () => {
    if (lastError !== '') ctx.logger.info(`[REDIS] pool "${name}": connected again`);
    lastError = '';
  });
  const entry = { client: created, firstReady };
  byName.set(name, entry);
  ctx.onClose(() => {
    byName.delete(name);
    created.disconnect();
  });
  return entry;
}

function validatePool(item: unknown, v: Issues, at: string, cluster: boolean, names: Set<string>): void {
  if (!isObject(item)) {
    v.add(at, 'expected an object like {"name": "shared_instance", "address": "redis:6379"}');
    return;
  }
  if (typeof item.name !== 'string' || item.name === '')
    v.add(`${at}.name`, 'expected the pool name (a non-empty string)');
  else if (names.has(item.name))
    v.add(`${at}.name`, `the name "${item.name}" is already used by another pool or cluster`);
  else names.add(item.name);
  if (cluster) {
    const a = item.addresses;
    if (!Array.isArray(a) || a.length === 0 || !a.every((x) => typeof x === 'string' && x !== ''))
      v.add(`${at}.addresses`, 'expected a non-empty array of "host:port" strings');
  } else {
    const address = item.address ?? item.host;
    if (typeof address !== 'string' || address === '') v.add(`${at}.address`, 'expected "host:port"');
    const db = item.db;
    if (db !== undefined && (typeof db !== 'number' || !Number.isInteger(db) || db < 0 || db > 65535))
      v.add(`${at}.db`, `expected a database number from 0, got ${JSON.stringify(db)}`);
  }
  for (const k of ['dial_timeout', 'read_timeout', 'write_timeout', 'pool_timeout']) {
    const x = item[k];
    if (x === undefined) continue;
    const ms = durationMs(x);
    if (ms === undefined || ms <= 0 || ms > HOUR_MS)
      v.add(`${at}.${k}`, `expected a duration above 0 like "500ms", got ${JSON.stringify(x)}`);
  }
}

function validateRedis(raw: unknown, path: string): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) {
    v.add(
      '',
      'expected an object like {"connection_pools": [{"name": "shared_instance", "address": "redis:6379"}]}',
    );
    return v.list;
  }
  const names = new Set<string>();
  for (const [list, cluster] of [
    ['connection_pools', false],
    ['nodes', false],
    ['clusters', true],
  ] as const) {
    const items = raw[list];
    if (items === undefined) continue;
    if (!Array.isArray(items)) {
      v.add(list, 'expected an array of pools');
      continue;
    }
    items.forEach((item, i) => {
      validatePool(item, v, `${list}[${i}]`, cluster, names);
    });
  }
  return v.list;
}

export const redisModule: FeatureModule = {
  namespace: REDIS_NAMESPACE,
  schema: { type: 'object' },
  validate: validateRedis,
};

// ---- the limits -------------------------------------------------------------------------------

/**
 * KEYS: endpoint bucket, client bucket. ARGV: endpoint interval µs, endpoint tolerance µs, client
 * interval µs, client tolerance µs (interval 0 = no such limit). Returns 0 pass, 1 endpoint
 * limit, 2 client limit. Nothing is consumed unless both buckets have a token.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local function advance(key, interval, tolerance)
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  if tat - now > tolerance then return nil end
  return tat + interval
end
local ei, et, ci, ct = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local c, e
if ci > 0 then
  c = advance(KEYS[2], ci, ct)
  if not c then return 2 end
end
if ei > 0 then
  e = advance(KEYS[1], ei, et)
  if not e then return 1 end
end
if c then redis.call('SET', KEYS[2], string.format('%.3f', c), 'PX', math.ceil((c - now) / 1000) + 1) end
if e then redis.call('SET', KEYS[1], string.format('%.3f', e), 'PX', math.ceil((e - now) / 1000) + 1) end
return 0
`;

type LimitedClient = RedisClient & {
  gwLimit(k1: string, k2: string, a1: string, a2: string, a3: string, a4: string): Promise<number>;
};

function withScript(client: RedisClient): LimitedClient {
  if (!('gwLimit' in client)) client.defineCommand('gwLimit', { numberOfKeys: 2, lua: GCRA_SCRIPT });
  return client as LimitedClient;
}

function poolName(cfg: Obj): unknown {
  return cfg.connection_name ?? cfg.connection_pool ?? cfg.redis_instance;
}

function validateRedisLimit(raw: unknown, path: string, service: ServiceConfig): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) {
    v.add(
      '',
      'expected an object like {"connection_name": "shared_instance", "client_max_rate": 10, "every": "1m"}',
    );
    return v.list;
  }
  validateRates(raw, v, true);
  v.boolean(raw, 'on_failure_allow');
  const name = poolName(raw);
  const field =
    raw.connection_pool !== undefined
      ? 'connection_pool'
      : raw.redis_instance !== undefined
        ? 'redis_instance'
        : 'connection_name';
  if (typeof name !== 'string' || name === '')
    v.add(field, 'expected the name of a pool declared in the service\'s "redis" namespace');
  else if (!poolsOf(service).some((p) => p.name === name))
    v.add(field, `no Redis pool or cluster named "${name}" in $.extra_config.redis`);
  return v.list;
}

function status(code: number): GwResponse {
  return { status: code, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '' };
}

/** Redis key part for a client: short keys as they are, long ones (tokens…) hashed. */
function clientPart(key: string): string {
  return key.length <= 64 ? key : `#${createHash('sha1').update(key).digest('base64url')}`;
}

function compileRedisLimit(namespace: string, scopeId: (ctx: CompileContext) => string) {
  return (raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined => {
    if (!isObject(raw)) return undefined;
    const spec = limitSpec(raw, true);
    if (!spec.shared && !spec.client) return undefined;
    const name = poolName(raw);
    const pool = typeof name === 'string' ? clientFor(ctx, name) : undefined;
    if (!pool) throw new Error(`${ctx.path}: no Redis pool named ${JSON.stringify(name)}`);
    const redis = withScript(pool.client);
    let started = false;
    pool.firstReady.then(() => {
      started = true;
    });
    const logger: Logger = ctx.logger;
    const allowOnFailure = raw.on_failure_allow === true;
    const local = allowOnFailure ? sharedOrLocal(ctx.shared, ctx.service, namespace, true) : undefined;
    const fallback = local ? compileLimiter(local, ctx.path, spec) : undefined;
    const clientKey = compileClientKey(raw);
    // Every key of a limit carries the same hash tag: one Redis Cluster slot per limit.
    const tag = `gw:rl:{${createHash('sha1').update(scopeId(ctx)).digest('hex').slice(0, 16)}}`;
    const endpointKey = `${tag}:e`;
    const us = (ns: number) => ns / 1000;
    const eInterval = spec.shared ? String(us(spec.shared.intervalNs)) : '0';
    const eTolerance = spec.shared ? String(us(spec.shared.intervalNs * (spec.shared.burst - 1))) : '0';
    const cInterval = spec.client ? String(us(spec.client.intervalNs)) : '0';
    const cTolerance = spec.client ? String(us(spec.client.intervalNs * (spec.client.burst - 1))) : '0';
    const policy = fallback ? 'falling back to local buckets' : 'refusing requests (503)';
    let failing = false;

    const local503or429 = (key: string): Promise<GwResponse> | undefined => {
      if (!fallback) return Promise.resolve(status(503));
      if (spec.client && !fallback.takeClient(key)) return Promise.resolve(status(429));
      if (!fallback.takeShared()) return Promise.resolve(status(503));
      return undefined;
    };

    return (next) => async (req: GwRequest) => {
      let key = '';
      if (spec.client) {
        const k = clientKey(req);
        if (k === undefined) return status(429);
        key = k;
      }
      if (!started) await pool.firstReady;
      let verdict: number;
      try {
        verdict = await redis.gwLimit(
          endpointKey,
          `${tag}:c:${clientPart(key)}`,
          eInterval,
          eTolerance,
          cInterval,
          cTolerance,
        );
        if (failing) {
          failing = false;
          logger.info(`[REDIS] ${ctx.path}: Redis answers again, limits are cluster-wide again`);
        }
      } catch (err) {
        if (!failing) {
          failing = true;
          logger.error(`[REDIS] ${ctx.path}: Redis unreachable (${(err as Error).message}): ${policy}`);
        }
        const refused = local503or429(key);
        return refused ?? next(req);
      }
      if (verdict === 2) return status(429);
      if (verdict === 1) return status(503);
      return next(req);
    };
  };
}

export const routerRedisRateLimitModule: FeatureModule = {
  namespace: ROUTER_REDIS_NAMESPACE,
  schema: { type: 'object' },
  validate: validateRedisLimit,
  // Local buckets only for the limits that fall back to them.
  prepareShared: (service) =>
    layoutBuckets(service, ROUTER_REDIS_NAMESPACE, true, (cfg) => cfg.on_failure_allow === true),
  endpoint: compileRedisLimit(
    ROUTER_REDIS_NAMESPACE,
    (ctx) =>
      `endpoint ${(ctx.endpoint?.method ?? 'GET').toUpperCase()} ${ctx.endpoint?.endpoint ?? ctx.path}`,
  ),
};

export const serviceRedisRateLimitModule: FeatureModule = {
  namespace: SERVICE_REDIS_NAMESPACE,
  schema: { type: 'object' },
  validate: validateRedisLimit,
  prepareShared: (service) =>
    layoutBuckets(service, SERVICE_REDIS_NAMESPACE, true, (cfg) => cfg.on_failure_allow === true),
  service: compileRedisLimit(SERVICE_REDIS_NAMESPACE, () => 'service'),
};
