// `auth/api-keys`: the "API Key Authentication" page (a KrakenD Enterprise feature, offered here
// because Kong and Express Gateway users rely on it).
// Root: `keys` [{key, roles}], `strategy` ("header" | "query_string"), `identifier` (header
// name, default Authorization; query name, default "key"), `hash` (plain, fnv128, sha256, sha1)
// with `salt` prepended, `propagate_role`. Endpoint: `roles` (any one grants access),
// `client_max_rate` (requests per second per key), and `strategy`/`identifier` overrides.
// A missing or unknown key, or a key without a required role, is 401 with an empty body (as the
// page shows); a key over its rate is 429. Keys and hashes never reach the logs.

import { createHash } from 'node:crypto';
import { canonicalHeader } from '../proxy/backend-request.js';
import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
} from '../types.js';
import { emptyResponse, IssueList, isObject, isStringArray, type Obj } from './util.js';

export const API_KEYS_NAMESPACE = 'auth/api-keys';

export type ApiKeyHash = 'plain' | 'fnv128' | 'sha256' | 'sha1';

const FNV128_OFFSET = 0x6c62272e07bb014262b821756295c58dn;
const FNV128_PRIME = 0x0000000001000000000000000000013bn;
const MASK128 = (1n << 128n) - 1n;

/** FNV-1 (not 1a), 128 bits, hex, as Go's hash/fnv New128 + Sum + %x. */
export function fnv128Hex(input: string): string {
  let h = FNV128_OFFSET;
  for (const b of Buffer.from(input, 'utf8')) {
    h = (h * FNV128_PRIME) & MASK128;
    h ^= BigInt(b);
  }
  return h.toString(16).padStart(32, '0');
}

export function hashApiKey(hash: ApiKeyHash, salt: string, key: string): string {
  switch (hash) {
    case 'plain':
      return salt + key;
    case 'fnv128':
      return fnv128Hex(salt + key);
    case 'sha256':
      return createHash('sha256')
        .update(salt + key)
        .digest('hex');
    case 'sha1':
      return createHash('sha1')
        .update(salt + key)
        .digest('hex');
  }
}

interface RootConfig {
  keys?: Array<{ key: string; roles?: string[] }>;
  strategy?: 'header' | 'query_string';
  identifier?: string;
  hash?: ApiKeyHash;
  salt?: string;
  propagate_role?: string;
}

interface EndpointConfig {
  roles?: string[];
  client_max_rate?: number;
  strategy?: 'header' | 'query_string';
  identifier?: string;
}

/** Reads the presented key: `Bearer K`, `Basic base64(K:)` or the whole header value; or the query. */
function compileExtractor(
  strategy: 'header' | 'query_string',
  identifier: string,
): (req: GwRequest) => string | undefined {
  if (strategy === 'query_string') {
    const name = identifier;
    return (req) => {
      const q = req.query;
      if (q === '') return undefined;
      for (const pair of q.split('&')) {
        const eq = pair.indexOf('=');
        const k = eq < 0 ? pair : pair.slice(0, eq);
        if (decodeQueryPart(k) !== name) continue;
        const v = eq < 0 ? '' : decodeQueryPart(pair.slice(eq + 1));
        return v === '' ? undefined : v;
      }
      return undefined;
    };
  }
  const header = identifier.toLowerCase();
  return (req) => {
    const v = req.headers[header];
    if (v === undefined || v === '') return undefined;
    const lower = v.slice(0, 7).toLowerCase();
    if (lower === 'bearer ') return v.slice(7).trim() || undefined;
    if (lower.startsWith('basic ')) {
      const decoded = Buffer.from(v.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const key = colon < 0 ? decoded.trim() : decoded.slice(0, colon);
      return key === '' ? undefined : key;
    }
    return v;
  };
}

function decodeQueryPart(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A token bucket per key: `rate` per second, burst of `rate`. */
function compileRate(rate: number): (id: string) => boolean {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const capacity = Math.max(1, Math.ceil(rate));
  return (id) => {
    const now = performance.now();
    let b = buckets.get(id);
    if (b === undefined) {
      b = { tokens: capacity, at: now };
      buckets.set(id, b);
    } else {
      b.tokens = Math.min(capacity, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
}

export function compileApiKeys(root: RootConfig, endpoint: EndpointConfig) {
  const hash: ApiKeyHash = root.hash ?? 'plain';
  const salt = root.salt ?? '';
  const table = new Map<string, string[]>();
  for (const k of root.keys ?? [])
    if (typeof k.key === 'string' && k.key !== '')
      table.set(hash === 'plain' ? salt + k.key : k.key.toLowerCase(), k.roles ?? []);
  const strategy = endpoint.strategy ?? root.strategy ?? 'header';
  const identifier =
    endpoint.identifier ?? root.identifier ?? (strategy === 'query_string' ? 'key' : 'Authorization');
  const extract = compileExtractor(strategy, identifier);
  const required = endpoint.roles && endpoint.roles.length > 0 ? new Set(endpoint.roles) : undefined;
  const roleHeader = root.propagate_role ? canonicalHeader(root.propagate_role) : undefined;
  const rate =
    typeof endpoint.client_max_rate === 'number' && endpoint.client_max_rate > 0
      ? compileRate(endpoint.client_max_rate)
      : undefined;
  const unauthorized = emptyResponse(401);
  const tooMany = emptyResponse(429);

  /** Undefined when the request may go on (role propagated), else the answer. */
  return (req: GwRequest): GwResponse | undefined => {
    const presented = extract(req);
    if (presented === undefined) return { ...unauthorized, headers: {} };
    const id = hashApiKey(hash, salt, presented);
    const roles = table.get(id);
    if (roles === undefined) return { ...unauthorized, headers: {} };
    let matched: string | undefined;
    if (required) {
      for (const r of roles)
        if (required.has(r)) {
          matched = r;
          break;
        }
      if (matched === undefined) return { ...unauthorized, headers: {} };
    } else matched = roles[0];
    if (rate && !rate(id)) return { ...tooMany, headers: {} };
    if (roleHeader && matched !== undefined) {
      req.extraBackendHeaders ??= {};
      req.extraBackendHeaders[roleHeader] = matched;
    }
    return undefined;
  };
}

const HASHES = ['plain', 'fnv128', 'sha256', 'sha1'];

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const v = new IssueList(path);
  if (raw.strategy !== undefined && raw.strategy !== 'header' && raw.strategy !== 'query_string')
    v.add('strategy', 'expected "header" or "query_string"');
  v.type(raw, 'identifier', 'string');
  if (path.startsWith('$.extra_config')) {
    if (raw.hash !== undefined && !HASHES.includes(raw.hash as string))
      v.add('hash', `expected one of ${HASHES.join(', ')}`);
    v.type(raw, 'salt', 'string');
    v.type(raw, 'propagate_role', 'string');
    if (!Array.isArray(raw.keys)) v.add('keys', 'required: an array of {"key": "...", "roles": [...]}');
    else
      raw.keys.forEach((k, i) => {
        if (!isObject(k) || typeof k.key !== 'string' || k.key === '')
          v.add(`keys[${i}].key`, 'expected a non-empty string');
        else if (k.roles !== undefined && !isStringArray(k.roles))
          v.add(`keys[${i}].roles`, 'expected an array of strings');
      });
  } else {
    v.type(raw, 'roles', 'string[]');
    if (
      v.type(raw, 'client_max_rate', 'number') &&
      typeof raw.client_max_rate === 'number' &&
      raw.client_max_rate < 0
    )
      v.add('client_max_rate', 'expected a number >= 0');
  }
  return v.issues;
}

function validateWithService(raw: unknown, path: string, service: { extra_config?: Obj }): ConfigIssue[] {
  const issues = validate(raw, path);
  if (!path.startsWith('$.extra_config') && !isObject(service.extra_config?.[API_KEYS_NAMESPACE]))
    issues.push({
      path,
      message: 'auth/api-keys at an endpoint needs the keys declared in the root extra_config',
    });
  return issues;
}

export const apiKeysModule: FeatureModule = {
  namespace: API_KEYS_NAMESPACE,
  schema: { type: 'object' },
  validate: validateWithService,
  endpoint(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
    const root = ctx.service.extra_config?.[API_KEYS_NAMESPACE];
    if (!isObject(raw) || !isObject(root)) return undefined;
    const check = compileApiKeys(root as RootConfig, raw as EndpointConfig);
    return (next) => (req) => {
      const refused = check(req);
      return refused ? Promise.resolve(refused) : next(req);
    };
  },
};
