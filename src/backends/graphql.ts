// backend/graphql: turns the backend request into a GraphQL call ("GraphQL Backend Integration").
//  - type query: variables come from the config, `"{param}"` strings filled with endpoint params;
//  - type mutation: the client's JSON body gives the variables, over the config's defaults;
//  - method POST (default): a JSON body {query, operationName, variables};
//    method GET: the same as query string parameters, added to the url_pattern's own query.
// The query (inline or read from query_path at startup) and the variable template are decided
// at compile time; per request only the params are filled in.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigPathError, compileIssues, isObject } from '../config/issues.js';
import type {
  BackendMiddleware,
  BackendRequest,
  CompileContext,
  ConfigIssue,
  FeatureModule,
} from '../types.js';

export interface GraphqlConfig {
  type?: string;
  query?: string;
  query_path?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  method?: string;
}

const PARAM = /^\{([^{}]+)\}$/;

function capitalize(s: string): string {
  return s === '' ? s : s[0].toUpperCase() + s.slice(1);
}

function paramValue(params: Record<string, string>, name: string): string | undefined {
  if (Object.hasOwn(params, name)) return params[name];
  const want = capitalize(name);
  for (const k in params) if (capitalize(k) === want) return params[k];
  return undefined;
}

/** The config's variables with the places where `{param}` strings sit, found once. */
function compileVariables(
  vars: Record<string, unknown>,
): (params: Record<string, string>) => Record<string, unknown> {
  const holes: Array<{ path: string[]; name: string }> = [];
  const walk = (v: unknown, path: string[]) => {
    if (typeof v === 'string') {
      const m = PARAM.exec(v);
      if (m) holes.push({ path, name: m[1] });
    } else if (isObject(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, [...path, k]);
    }
  };
  walk(vars, []);
  if (holes.length === 0) return () => structuredClone(vars);
  return (params) => {
    const out = structuredClone(vars);
    for (const h of holes) {
      const value = paramValue(params, h.name);
      if (value === undefined) continue;
      let cur: Record<string, unknown> = out;
      for (let i = 0; i < h.path.length - 1; i++) cur = cur[h.path[i]] as Record<string, unknown>;
      cur[h.path[h.path.length - 1]] = value;
    }
    return out;
  };
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface CompiledGraphql {
  method: 'GET' | 'POST';
  /** The request to send instead of `breq`. */
  rewrite(breq: BackendRequest): BackendRequest;
}

export function compileGraphql(cfg: unknown, path: string, backendMethod?: string): CompiledGraphql {
  if (!isObject(cfg)) throw new ConfigPathError(path, 'expected an object');
  const c = cfg as GraphqlConfig;
  if (c.type !== 'query' && c.type !== 'mutation')
    throw new ConfigPathError(`${path}.type`, 'expected "query" or "mutation"');
  let query: string;
  if (typeof c.query === 'string' && c.query !== '') {
    query = c.query;
  } else if (typeof c.query_path === 'string' && c.query_path !== '') {
    try {
      query = readFileSync(resolve(c.query_path), 'utf8');
    } catch (err) {
      throw new ConfigPathError(
        `${path}.query_path`,
        `cannot read ${c.query_path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  } else {
    throw new ConfigPathError(path, 'expected a "query" or a "query_path"');
  }
  if (c.variables !== undefined && !isObject(c.variables))
    throw new ConfigPathError(`${path}.variables`, 'expected an object');
  if (c.operationName !== undefined && typeof c.operationName !== 'string')
    throw new ConfigPathError(`${path}.operationName`, 'expected a string');
  let method: 'GET' | 'POST';
  if (c.method !== undefined) {
    const m = String(c.method).toUpperCase();
    if (m !== 'GET' && m !== 'POST') throw new ConfigPathError(`${path}.method`, 'expected "GET" or "POST"');
    method = m;
  } else {
    method = backendMethod?.toUpperCase() === 'GET' ? 'GET' : 'POST';
  }
  const operationName = c.operationName ?? '';
  const fill = compileVariables(c.variables ?? {});
  const defaults = c.variables ?? {};

  const variablesFor: (breq: BackendRequest) => Record<string, unknown> =
    c.type === 'query'
      ? (breq) => fill(breq.params)
      : (breq) => {
          // mutation: the client's body, over the config's values
          const out: Record<string, unknown> = structuredClone(defaults);
          if (breq.body && breq.body.length > 0) {
            let user: unknown;
            try {
              user = JSON.parse(breq.body.toString('utf8'));
            } catch {
              user = undefined;
            }
            if (isObject(user)) Object.assign(out, user);
          }
          return out;
        };

  if (method === 'GET') {
    const fixed = `${operationName ? `operationName=${queryEscape(operationName)}&` : ''}query=${queryEscape(query)}`;
    return {
      method,
      rewrite(breq) {
        const variables = variablesFor(breq);
        let qs = fixed;
        if (Object.keys(variables).length > 0) qs += `&variables=${queryEscape(JSON.stringify(variables))}`;
        const headers = { ...breq.headers };
        delete headers['Content-Type'];
        return {
          ...breq,
          method: 'GET',
          path: `${breq.path}${breq.path.includes('?') ? '&' : '?'}${qs}`,
          body: null,
          headers,
        };
      },
    };
  }
  return {
    method,
    rewrite(breq) {
      const variables = variablesFor(breq);
      const payload: Record<string, unknown> = { query };
      if (operationName) payload.operationName = operationName;
      if (Object.keys(variables).length > 0) payload.variables = variables;
      return {
        ...breq,
        method: 'POST',
        body: Buffer.from(JSON.stringify(payload), 'utf8'),
        headers: { ...breq.headers, 'Content-Type': 'application/json' },
      };
    },
  };
}

export function validateGraphql(cfg: unknown, path: string): ConfigIssue[] {
  return compileIssues(() => compileGraphql(cfg, path), path);
}

/** The `backend/graphql` settings (also the base of `check --lint`'s, src/config/lint-schema.ts). */
export const GRAPHQL_SCHEMA = {
  type: 'object',
  properties: {
    type: { enum: ['query', 'mutation'] },
    query: { type: 'string' },
    query_path: { type: 'string' },
    variables: { type: 'object' },
    operationName: { type: 'string' },
    method: { enum: ['GET', 'POST', 'get', 'post'] },
  },
  required: ['type'],
};

export const graphqlModule: FeatureModule = {
  namespace: 'backend/graphql',
  schema: GRAPHQL_SCHEMA,
  bytesOnly: true,
  validate: (cfg, path) => validateGraphql(cfg, path),
  backend(cfg: unknown, ctx: CompileContext): BackendMiddleware {
    const compiled = compileGraphql(cfg, ctx.path, ctx.backend?.method);
    return (next) => (breq) => next(compiled.rewrite(breq));
  },
};
