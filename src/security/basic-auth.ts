// `auth/basic`: the "Basic Authentication" page (KrakenD Enterprise; offered here for Kong and
// Express Gateway users). Credentials come from an `.htpasswd` file (read once at startup) and/or
// inline `users`, bcrypt only. Root config is inherited by endpoints with `"auth/basic": {}`; a
// non-empty endpoint object replaces it. Bad or missing credentials: 401.
// bcrypt is slow on purpose: a successful check is remembered (by a SHA-256 of the credentials,
// never the password itself) so that a client does not pay it on every request.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
} from '../types.js';
import { IssueList, isObject, SmallLru } from './util.js';

export const BASIC_AUTH_NAMESPACE = 'auth/basic';

interface BasicConfig {
  htpasswd_path?: string;
  users?: Record<string, string>;
}

const BCRYPT = /^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/;

export function parseHtpasswd(text: string, origin: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const colon = l.indexOf(':');
    if (colon <= 0) throw new Error(`${origin}:${i + 1}: expected user:bcrypt-hash`);
    const hash = l.slice(colon + 1);
    if (!BCRYPT.test(hash))
      throw new Error(`${origin}:${i + 1}: only bcrypt hashes are supported (htpasswd -B)`);
    users.set(l.slice(0, colon), hash);
  });
  return users;
}

function loadUsers(cfg: BasicConfig): Map<string, string> {
  const users = cfg.htpasswd_path
    ? parseHtpasswd(readFileSync(cfg.htpasswd_path, 'utf8'), cfg.htpasswd_path)
    : new Map();
  for (const [u, h] of Object.entries(cfg.users ?? {})) users.set(u, h);
  return users;
}

function credentials(header: string | undefined): [string, string] | undefined {
  if (header === undefined || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ')
    return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

export function compileBasicAuth(cfg: BasicConfig): (req: GwRequest) => Promise<boolean> {
  const users = loadUsers(cfg);
  const accepted = new SmallLru<true>(4096);
  return async (req) => {
    const cred = credentials(req.headers.authorization);
    if (!cred) return false;
    const hash = users.get(cred[0]);
    if (hash === undefined) return false;
    const memo = createHash('sha256')
      .update(cred[0])
      .update('\0')
      .update(cred[1])
      .update('\0')
      .update(hash)
      .digest('base64');
    if (accepted.get(memo)) return true;
    // bcryptjs knows $2a$/$2b$; $2y$ (htpasswd) is the same algorithm.
    const ok = await bcrypt.compare(cred[1], hash.replace(/^\$2[xy]\$/, '$2b$'));
    if (ok) accepted.set(memo, true);
    return ok;
  };
}

function effectiveConfig(raw: unknown, root: unknown): BasicConfig | undefined {
  if (!isObject(raw)) return undefined;
  if (Object.keys(raw).some((k) => !k.startsWith('@'))) return raw as BasicConfig;
  return isObject(root) ? (root as BasicConfig) : undefined;
}

function validate(
  raw: unknown,
  path: string,
  service: { extra_config?: Record<string, unknown> },
): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const v = new IssueList(path);
  v.type(raw, 'htpasswd_path', 'string');
  if (v.type(raw, 'users', 'object') && isObject(raw.users))
    for (const [u, h] of Object.entries(raw.users))
      if (typeof h !== 'string' || !BCRYPT.test(h))
        v.add(`users["${u}"]`, 'expected a bcrypt hash (htpasswd -nB user)');
  if (typeof raw.htpasswd_path === 'string')
    try {
      parseHtpasswd(readFileSync(raw.htpasswd_path, 'utf8'), raw.htpasswd_path);
    } catch (err) {
      v.add('htpasswd_path', err instanceof Error ? err.message.replace(/^ENOENT: /, '') : String(err));
    }
  if (!path.startsWith('$.extra_config')) {
    const eff = effectiveConfig(raw, service.extra_config?.[BASIC_AUTH_NAMESPACE]);
    if (!eff || (!eff.htpasswd_path && !eff.users))
      v.add('', 'no credentials: set htpasswd_path or users here or in the root extra_config');
  }
  return v.issues;
}

export const basicAuthModule: FeatureModule = {
  namespace: BASIC_AUTH_NAMESPACE,
  schema: { type: 'object' },
  validate,
  endpoint(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
    const cfg = effectiveConfig(raw, ctx.service.extra_config?.[BASIC_AUTH_NAMESPACE]);
    if (!cfg) return undefined;
    const check = compileBasicAuth(cfg);
    const refused: GwResponse = {
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="Restricted"' },
      body: null,
    };
    return (next) => async (req) => {
      if (!(await check(req))) return { ...refused, headers: { ...refused.headers } };
      return next(req);
    };
  },
};
