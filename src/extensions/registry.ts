// The one place where extra_config namespaces are registered. Adding a feature = one module
// implementing FeatureModule, one line here, and its tests. The order of `featureModules` is
// the order middlewares run in at each layer (first = outermost), as KrakenD chains them:
// bot detector → auth (API keys, basic, JWT) → rate limits → the rest.

import { graphqlModule } from '../backends/graphql.js';
import { luaBackendModule, luaEndpointModule, luaProxyModule } from '../modifiers/lua/index.js';
import { martianModule } from '../modifiers/martian.js';
import { qosModules } from '../qos/index.js';
import { apiKeysModule } from '../security/api-keys.js';
import { basicAuthModule } from '../security/basic-auth.js';
import { botDetectorModule } from '../security/bot-detector.js';
import { corsModule } from '../security/cors.js';
import { httpSecurityModule } from '../security/http-security.js';
import { jwtSignerModule } from '../security/jwt-signer.js';
import { jwkClientModule, jwtValidatorModule } from '../security/jwt-validator.js';
import { loggingModule } from '../telemetry/logging.js';
import { opentelemetryModule } from '../telemetry/opentelemetry.js';
import { metricsModule } from '../telemetry/stats.js';
import type { FeatureModule } from '../types.js';
import { celModule } from '../validation/cel.js';
import { jsonSchemaModule } from '../validation/json-schema.js';
import '../encodings/xml.js'; // registers the xml/rss decoders and the xml output encoder

export const featureModules: FeatureModule[] = [
  // service level, around the router
  corsModule,
  httpSecurityModule,
  // router layer: who may call, then how often
  botDetectorModule,
  apiKeysModule,
  basicAuthModule,
  jwtValidatorModule,
  jwkClientModule,
  luaEndpointModule, // router layer after auth, before rate limits; proxy layer outside CEL/schema
  luaProxyModule,
  ...qosModules, // rate limits, circuit breaker, http cache, redis
  loggingModule,
  metricsModule,
  opentelemetryModule, // telemetry
  // proxy layer: request/response validation and signing
  jsonSchemaModule,
  celModule,
  jwtSignerModule,
  // backend layer, innermost last: lua-backend inside circuit breaker/rate limits
  graphqlModule, // rewrites the request before lua-backend and martian see it
  luaBackendModule,
  martianModule, // innermost: martian edits the HTTP request/response itself
];

/** Namespaces gw understands without a module of their own (handled by the core). */
export const coreNamespaces = new Set<string>(['router', 'proxy', 'backend/http', 'backend/http/client']);

export const featureByNamespace = new Map<string, FeatureModule>(featureModules.map((m) => [m.namespace, m]));

/** The registered namespaces present in `extra`, in registry (= run, outermost-first) order. */
export function namespacesInRunOrder(extra: Record<string, unknown>): string[] {
  return featureModules.filter((m) => extra[m.namespace] !== undefined).map((m) => m.namespace);
}

export function isKnownNamespace(ns: string): boolean {
  return coreNamespaces.has(ns) || featureByNamespace.has(ns);
}
