// `gw check --lint`: the configuration held to KrakenD CE 2.13's schema (src/config/lint-schema.ts),
// as `krakend check --lint` holds it to krakend-schema: unknown keys, missing required fields,
// wrong types and values outside an enum are errors, each with its JSON path and what was
// expected. Loaded only by `gw check --lint`; `gw run` accepts what `krakend run` accepts.

import { ENTERPRISE_NAMESPACES, isKnownNamespace } from '../extensions/registry.js';
import type { ConfigIssue, ServiceConfig } from '../types.js';
import { type Level, NAMESPACE_SCHEMAS, ROOT_LINT } from './lint-schema.js';
import { childPath, HOSTLESS_NAMESPACES, schemaIssues } from './validate.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const LEVEL_WORDS: Record<Level, string> = {
  service: 'the service (root)',
  endpoint: 'an endpoint',
  backend: 'a backend',
};

function lintExtraConfig(extra: unknown, base: string, level: Level, out: ConfigIssue[]): void {
  if (!isObject(extra)) return;
  for (const ns of Object.keys(extra)) {
    if (/^[@$_#]/.test(ns)) continue;
    const path = childPath(`${base}.extra_config`, ns);
    const byLevel = NAMESPACE_SCHEMAS[ns];
    if (byLevel === undefined) {
      // gw's own namespaces (auth/jwk-client) and Enterprise ones are named by the regular check.
      if (!isKnownNamespace(ns) && !ENTERPRISE_NAMESPACES.has(ns))
        out.push({ path, message: `unknown namespace "${ns}": KrakenD's schema has no such namespace` });
      continue;
    }
    const schema = byLevel[level];
    if (schema === undefined) {
      const where = (Object.keys(byLevel) as Level[]).map((l) => LEVEL_WORDS[l]).join(' or ');
      out.push({ path, message: `"${ns}" does not belong in ${LEVEL_WORDS[level]}: it is read in ${where}` });
      continue;
    }
    out.push(...schemaIssues(schema, extra[ns], path));
  }
}

/** Every lint finding of `config`; findings at or under a path in `already` are left out. */
export function lintConfig(config: ServiceConfig, already: ConfigIssue[]): ConfigIssue[] {
  const found = schemaIssues(ROOT_LINT, config, '$');
  lintExtraConfig(config.extra_config, '$', 'service', found);
  const endpoints = Array.isArray(config.endpoints) ? config.endpoints : [];
  endpoints.forEach((ep, i) => {
    if (!isObject(ep)) return;
    const base = `$.endpoints[${i}]`;
    lintExtraConfig(ep.extra_config, base, 'endpoint', found);
    const backends = Array.isArray(ep.backend) ? ep.backend : [];
    backends.forEach((b, j) => {
      if (!isObject(b)) return;
      const at = `${base}.backend[${j}]`;
      lintExtraConfig(b.extra_config, at, 'backend', found);
      // krakend-schema requires url_pattern; the AMQP, Pub/Sub and Lambda pages show backends
      // without one, their transport being in extra_config.
      const extra = isObject(b.extra_config) ? b.extra_config : {};
      if (b.url_pattern === undefined && !HOSTLESS_NAMESPACES.some((ns) => extra[ns] !== undefined))
        found.push({
          path: `${at}.url_pattern`,
          message:
            'required property "url_pattern" is missing (expected the path on the backend, e.g. "/users/{id}")',
        });
    });
  });
  const covered = (path: string) =>
    already.some((a) => path === a.path || path.startsWith(`${a.path}.`) || path.startsWith(`${a.path}[`));
  const seen = new Set<string>();
  return found.filter((f) => {
    const key = `${f.path}\u0000${f.message}`;
    if (covered(f.path) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
