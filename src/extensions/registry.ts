// The one place where extra_config namespaces are registered. Adding a feature = one module
// implementing FeatureModule, one line here, and its tests.

import type { FeatureModule } from '../types.js';

export const featureModules: FeatureModule[] = [
  // one line per namespace module, e.g.:
  // corsModule,
];

/** Namespaces gw understands without a module of their own (handled by the core). */
export const coreNamespaces = new Set<string>(['router', 'proxy', 'backend/http', 'backend/http/client']);

export const featureByNamespace = new Map<string, FeatureModule>(featureModules.map((m) => [m.namespace, m]));

export function isKnownNamespace(ns: string): boolean {
  return coreNamespaces.has(ns) || featureByNamespace.has(ns);
}
