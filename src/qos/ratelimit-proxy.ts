// `qos/ratelimit/proxy` (backend): the "Rate Limiting Backends" page. One bucket per backend
// entry, `max_rate` per `every` (default 1s) with `capacity` tokens (default: max_rate, at least 1),
// shared by every worker thread. A refused call fails that backend with 503 ("rate limit
// exceeded"), which the circuit breaker counts as an error when it wraps this limit.

import {
  BackendError,
  type BackendMiddleware,
  type CompileContext,
  type ConfigIssue,
  type FeatureModule,
} from '../types.js';
import { compileLimiter, layoutBuckets, limitSpec, sharedOrLocal } from './buckets.js';
import { validateRates } from './ratelimit-router.js';
import { Issues, isObject } from './util.js';

export const PROXY_NAMESPACE = 'qos/ratelimit/proxy';

function validate(raw: unknown, path: string): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) v.add('', 'expected an object like {"max_rate": 10, "every": "1s", "capacity": 10}');
  else validateRates(raw, v, false);
  return v.list;
}

function backend(raw: unknown, ctx: CompileContext): BackendMiddleware | undefined {
  if (!isObject(raw)) return undefined;
  const spec = limitSpec(raw, false);
  if (!spec.shared) return undefined;
  const shared = sharedOrLocal(ctx.shared, ctx.service, PROXY_NAMESPACE, false);
  if (!shared) return undefined;
  const { takeShared } = compileLimiter(shared, ctx.path, spec);
  return (next) => (breq) =>
    takeShared() ? next(breq) : Promise.reject(new BackendError('rate limit exceeded', 503));
}

export const proxyRateLimitModule: FeatureModule = {
  namespace: PROXY_NAMESPACE,
  schema: { type: 'object' },
  validate,
  prepareShared: (service) => layoutBuckets(service, PROXY_NAMESPACE, false),
  backend,
  bytesOnly: true,
};
