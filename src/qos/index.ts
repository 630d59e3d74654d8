// Traffic management: every qos namespace module, registered with one line in
// src/extensions/registry.ts.

import type { FeatureModule } from '../types.js';
import { circuitBreakerModule } from './circuit-breaker.js';
import { httpCacheModule } from './http-cache.js';
import { proxyRateLimitModule } from './ratelimit-proxy.js';
import { routerRateLimitModule, serviceRateLimitModule } from './ratelimit-router.js';
import { redisModule, routerRedisRateLimitModule, serviceRedisRateLimitModule } from './redis.js';

export const qosModules: FeatureModule[] = [
  routerRateLimitModule,
  serviceRateLimitModule,
  proxyRateLimitModule,
  circuitBreakerModule,
  httpCacheModule,
  redisModule,
  routerRedisRateLimitModule,
  serviceRedisRateLimitModule,
];
