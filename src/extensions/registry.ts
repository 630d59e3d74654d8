// The one place where extra_config namespaces are registered. Adding a feature = one module
// implementing FeatureModule, one line here, and its tests.

import type { FeatureModule } from '../types.js';
import { apiKeysModule } from '../security/api-keys.js';
import { basicAuthModule } from '../security/basic-auth.js';
import { botDetectorModule } from '../security/bot-detector.js';
import { corsModule } from '../security/cors.js';
import { httpSecurityModule } from '../security/http-security.js';
import { jwkClientModule, jwtValidatorModule } from '../security/jwt-validator.js';
import { jwtSignerModule } from '../security/jwt-signer.js';
import { celModule } from '../validation/cel.js';
import { jsonSchemaModule } from '../validation/json-schema.js';
import { qosModules } from '../qos/index.js';

export const featureModules: FeatureModule[] = [
  // one line per namespace module, e.g.:
  // corsModule,
  corsModule, httpSecurityModule, botDetectorModule, jwtValidatorModule, jwkClientModule, jwtSignerModule, apiKeysModule, basicAuthModule, celModule, jsonSchemaModule, // security + validation (issue 5)
  ...qosModules, // rate limits, circuit breaker, http cache, redis (issue 4)
];

/** Namespaces gw understands without a module of their own (handled by the core). */
export const coreNamespaces = new Set<string>(['router', 'proxy', 'backend/http', 'backend/http/client']);

export const featureByNamespace = new Map<string, FeatureModule>(featureModules.map((m) => [m.namespace, m]));

export function isKnownNamespace(ns: string): boolean {
  return coreNamespaces.has(ns) || featureByNamespace.has(ns);
}
