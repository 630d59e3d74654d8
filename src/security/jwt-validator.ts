// `auth/validator`: JWT validation as the "JWT Validation" page and krakend-jose do it.
//   token from `Authorization: Bearer …` (or the `cookie_key` cookie) → header `alg` must equal
//   the configured one and carry a `kid` → key from the JWK set (imported with jose) → signature
//   (node:crypto, synchronous) → exp/nbf/iat
//   with go-jose's one-minute leeway, `issuer`, `audience` (every configured audience must be in
//   the token) → CEL `JWT` rejecters → `roles` → `scopes`.
// Failing the token or a rejecter is 401; failing roles or scopes is 403; both with an empty body.
// Accepted claims go to `req.claims` ({JWT.x} in url_patterns, CEL) and `propagate_claims` headers.
// Tokens and keys are never logged; `operation_debug` logs only the reason of a rejection.

import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  Guard,
  GwRequest,
  GwResponse,
  ServiceConfig,
} from '../types.js';
import { CEL_NAMESPACE, compileCelChecks, firstFailing, nowRfc3339 } from '../validation/cel.js';
import {
  JWS_ALGORITHMS,
  KEY_IDENTIFY_STRATEGIES,
  SCOPES_MATCHERS,
  VALIDATOR_TYPED_FIELDS,
} from './jose-settings.js';
import {
  agentWithCa,
  JwkDownloader,
  type KeyIdentifyStrategy,
  type KeySource,
  LocalKeySource,
  parseJwkSet,
  RemoteKeySource,
} from './jwk.js';
import {
  canonicalHeaderName,
  emptyResponse,
  goValue,
  IssueList,
  isObject,
  isStringArray,
  nestedValue,
  type Obj,
  SmallLru,
} from './util.js';

export const JWT_VALIDATOR_NAMESPACE = 'auth/validator';
export const JWK_CLIENT_NAMESPACE = 'auth/jwk-client';

/** go-jose's jwt.DefaultLeeway, used by KrakenD for exp, nbf and iat. */
const LEEWAY_S = 60;
const DEFAULT_CACHE_DURATION_S = 900;

export interface ValidatorConfig {
  alg?: string;
  jwk_url?: string;
  jwk_local_path?: string;
  jwk_local_ca?: string;
  audience?: string[];
  issuer?: string;
  roles_key?: string;
  roles?: string[];
  roles_key_is_nested?: boolean;
  scopes_key?: string;
  scopes?: string[];
  scopes_matcher?: 'any' | 'all';
  cookie_key?: string;
  propagate_claims?: [string, string][];
  disable_jwk_security?: boolean;
  operation_debug?: boolean;
  cache?: boolean;
  cache_duration?: number;
  key_identify_strategy?: KeyIdentifyStrategy;
  shared_cache_duration?: number;
  [k: string]: unknown;
}

/** Why a token was refused (for operation_debug logs; never includes the token). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403,
  ) {
    super(message);
  }
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length <= 7) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  return header.slice(7);
}

/** The value of cookie `name` from a Cookie header, as net/http's Request.Cookie finds it. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(seg: string): unknown {
  if (!B64URL.test(seg)) throw new TokenError('malformed token', 401);
  try {
    return JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed token', 401);
  }
}

function numericClaim(claims: Obj, name: string): number | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TokenError(`invalid ${name} claim`, 401);
  return v;
}

function audienceList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((a): a is string => typeof a === 'string');
  return [];
}

/** Role check of krakend-jose: any required role present in the (array) claim. */
function hasAnyRole(claims: Obj, rolesPath: readonly string[], required: ReadonlySet<string>): boolean {
  const v = rolesPath.length === 1 ? claims[rolesPath[0]] : nestedValue(claims, rolesPath);
  if (!Array.isArray(v)) return false;
  for (const r of v) if (typeof r === 'string' && required.has(r)) return true;
  return false;
}

function scopeList(claims: Obj, key: string): string[] | undefined {
  const v = Object.hasOwn(claims, key) ? claims[key] : nestedValue(claims, key.split('.'));
  if (typeof v === 'string') return v.split(' ').filter((s) => s !== '');
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string');
  return undefined;
}

function claimHeaderValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((e) => (typeof e === 'string' ? e : goValue(e))).join(',');
  if (isObject(v)) return JSON.stringify(v);
  return goValue(v);
}

const downloaders = new WeakMap<ServiceConfig, JwkDownloader>();

function sharedCacheSeconds(service: ServiceConfig): number {
  const root = service.extra_config ?? {};
  for (const ns of [JWT_VALIDATOR_NAMESPACE, JWK_CLIENT_NAMESPACE]) {
    const c = root[ns];
    if (isObject(c) && typeof c.shared_cache_duration === 'number') return c.shared_cache_duration;
  }
  return 0;
}

function downloaderFor(service: ServiceConfig, logger: Logger): JwkDownloader {
  let d = downloaders.get(service);
  if (d === undefined) {
    d = new JwkDownloader(sharedCacheSeconds(service) * 1000, logger);
    downloaders.set(service, d);
  }
  return d;
}

export function keySourceFor(cfg: ValidatorConfig, service: ServiceConfig, logger: Logger): KeySource {
  const strategy = cfg.key_identify_strategy ?? 'kid';
  if (cfg.jwk_local_path) return new LocalKeySource(cfg.jwk_local_path, strategy);
  if (!cfg.jwk_url) throw new Error('auth/validator needs jwk_url or jwk_local_path');
  const source = new RemoteKeySource(downloaderFor(service, logger), {
    url: cfg.jwk_url,
    cache: cfg.cache === true,
    cacheTtlMs:
      (cfg.cache_duration && cfg.cache_duration > 0 ? cfg.cache_duration : DEFAULT_CACHE_DURATION_S) * 1000,
    strategy,
    dispatcher: agentWithCa(cfg.jwk_local_ca ? [cfg.jwk_local_ca] : []),
  });
  return source;
}

export interface CompiledValidator {
  /** Resolves the accepted claims, or throws a TokenError with the status to answer. */
  verify(req: GwRequest): Promise<Obj>;
  /**
   * `verify` without waiting, when it can decide at once: the accepted claims, a TokenError
   * thrown, or undefined when the token's signature must be verified (a token not seen recently).
   * Absent when signatures are never remembered (remote keys without `cache`).
   */
  verifyRemembered: ((req: GwRequest) => Obj | undefined) | undefined;
  /** Whether `propagate` writes anything (propagate_claims). */
  propagates: boolean;
  propagate(req: GwRequest, claims: Obj): void;
}

/** How long a verified signature is remembered (the claims are still checked on every request). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_ENTRIES = 4096;

export function compileValidator(
  cfg: ValidatorConfig,
  source: KeySource,
  celConfig: unknown,
): CompiledValidator {
  const alg = cfg.alg ?? 'RS256';
  const strategy = cfg.key_identify_strategy ?? 'kid';
  const cookieKey = cfg.cookie_key && cfg.cookie_key !== '' ? cfg.cookie_key : undefined;
  const issuer = cfg.issuer && cfg.issuer !== '' ? cfg.issuer : undefined;
  const audience = cfg.audience ?? [];
  const roles = cfg.roles && cfg.roles.length > 0 ? new Set(cfg.roles) : undefined;
  const rolesKey = cfg.roles_key ?? '';
  const rolesPath = cfg.roles_key_is_nested ? rolesKey.split('.') : [rolesKey];
  const scopes = cfg.scopes && cfg.scopes.length > 0 ? cfg.scopes : undefined;
  const scopesKey = cfg.scopes_key ?? '';
  const scopesAll = cfg.scopes_matcher === 'all';
  const rejecters = compileCelChecks(celConfig, 'jwt');
  const propagation = (cfg.propagate_claims ?? []).map(([claim, header]) => ({
    direct: claim,
    path: claim.split('.'),
    header: canonicalHeaderName(header),
  }));
  // Signature checks are the expensive part (RSA, WebCrypto round trips); a token seen and
  // verified recently is not verified again while the keys it was checked with are considered
  // current: local keys, or a cached JWK set (never without `cache`, where KrakenD re-reads the
  // keys for every request). Time claims, rejecters, roles and scopes run every time.
  const memoTtl = cfg.jwk_local_path
    ? VERIFIED_TTL_MS
    : cfg.cache === true
      ? Math.min(
          VERIFIED_TTL_MS,
          (cfg.cache_duration && cfg.cache_duration > 0 ? cfg.cache_duration : DEFAULT_CACHE_DURATION_S) *
            1000,
        )
      : 0;
  const verified = memoTtl > 0 ? new SmallLru<{ claims: Obj; until: number }>(VERIFIED_ENTRIES) : undefined;

  const rememberedClaims = (raw: string): Obj | undefined => {
    const memo = verified?.get(raw);
    return memo !== undefined && memo.until > Date.now() ? memo.claims : undefined;
  };
  const signatureClaims = async (raw: string): Promise<Obj> => {
    const remembered = rememberedClaims(raw);
    if (remembered !== undefined) return remembered;
    const parts = raw.split('.');
    if (parts.length !== 3 || parts[0] === '' || parts[2] === '')
      throw new TokenError('malformed token', 401);
    const header = decodeSegment(parts[0]);
    if (!isObject(header)) throw new TokenError('malformed token header', 401);
    if (header.alg !== alg) throw new TokenError('unexpected alg in the token header', 401);
    const id =
      strategy === 'x5t' ? header.x5t : strategy === 'kid_x5t' ? (header.kid ?? header.x5t) : header.kid;
    if (typeof id !== 'string' || id === '') throw new TokenError('no key id in the token header', 401);
    if (header.crit !== undefined) throw new TokenError('unsupported critical header', 401);
    if (!B64URL.test(parts[1]) || !B64URL.test(parts[2])) throw new TokenError('malformed token', 401);
    const verifyKey = await source.key(id, alg);
    if (verifyKey === undefined) throw new TokenError('no key for the token key id', 401);
    if (!verifyKey(`${parts[0]}.${parts[1]}`, Buffer.from(parts[2], 'base64url')))
      throw new TokenError('invalid signature', 401);
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      throw new TokenError('malformed payload', 401);
    }
    if (!isObject(claims)) throw new TokenError('malformed payload', 401);
    verified?.set(raw, { claims, until: Date.now() + memoTtl });
    return claims;
  };

  const tokenOf = (req: GwRequest): string => {
    let raw = bearerToken(req.headers.authorization);
    if (raw === undefined && cookieKey) raw = cookieValue(req.headers.cookie, cookieKey);
    if (raw === undefined || raw === '') throw new TokenError('no token', 401);
    return raw;
  };

  /** The checks every request's claims go through (time, issuer, audience, CEL, roles, scopes). */
  const accepted = (claims: Obj): Obj => {
    const now = Date.now() / 1000;
    const exp = numericClaim(claims, 'exp');
    if (exp !== undefined && now - LEEWAY_S > exp) throw new TokenError('token is expired', 401);
    const nbf = numericClaim(claims, 'nbf');
    if (nbf !== undefined && now + LEEWAY_S < nbf) throw new TokenError('token not valid yet', 401);
    const iat = numericClaim(claims, 'iat');
    if (iat !== undefined && now + LEEWAY_S < iat) throw new TokenError('token issued in the future', 401);
    if (issuer !== undefined && claims.iss !== issuer) throw new TokenError('invalid issuer', 401);
    if (audience.length > 0) {
      const aud = audienceList(claims.aud);
      for (const a of audience) if (!aud.includes(a)) throw new TokenError('invalid audience', 401);
    }
    if (rejecters.length > 0) {
      const failed = firstFailing(rejecters, { JWT: claims, now: nowRfc3339() });
      if (failed >= 0) throw new TokenError(`token rejected by CEL evaluator #${failed}`, 401);
    }
    if (roles && !hasAnyRole(claims, rolesPath, roles)) throw new TokenError('missing a required role', 403);
    if (scopes) {
      const present = scopeList(claims, scopesKey);
      const ok =
        present !== undefined &&
        (scopesAll ? scopes.every((s) => present.includes(s)) : scopes.some((s) => present.includes(s)));
      if (!ok) throw new TokenError('missing a required scope', 403);
    }
    return claims;
  };

  const verify = async (req: GwRequest): Promise<Obj> => accepted(await signatureClaims(tokenOf(req)));
  const verifyRemembered =
    verified === undefined
      ? undefined
      : (req: GwRequest): Obj | undefined => {
          const claims = rememberedClaims(tokenOf(req));
          return claims === undefined ? undefined : accepted(claims);
        };

  const propagate = (req: GwRequest, claims: Obj): void => {
    if (propagation.length === 0) return;
    for (const p of propagation) {
      const v = claimHeaderValue(
        Object.hasOwn(claims, p.direct) ? claims[p.direct] : nestedValue(claims, p.path),
      );
      if (v === undefined) continue;
      req.extraBackendHeaders ??= {};
      req.extraBackendHeaders[p.header] = v;
    }
  };

  return { verify, verifyRemembered, propagates: propagation.length > 0, propagate };
}

const oneOf = (values: readonly string[], v: unknown): boolean => values.includes(v as string);
/** `"a", "b" or "c"` */
const orList = (values: readonly string[]): string =>
  values.map((x, i) => `${i === 0 ? '' : i === values.length - 1 ? ' or ' : ', '}"${x}"`).join('');

function validate(raw: unknown, path: string): ConfigIssue[] {
  const v = new IssueList(path);
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const cfg = raw;
  if (path.startsWith('$.extra_config')) {
    // Service level: only the shared JWK cache lives here.
    v.type(cfg, 'shared_cache_duration', 'integer');
    return v.issues;
  }
  if (v.type(cfg, 'alg', 'string') && cfg.alg !== undefined && !oneOf(JWS_ALGORITHMS, cfg.alg))
    v.add('alg', `unsupported algorithm; expected one of ${JWS_ALGORITHMS.join(', ')}`);
  for (const [k, kind] of Object.entries(VALIDATOR_TYPED_FIELDS)) v.type(cfg, k, kind);
  if (
    v.type(cfg, 'cache_duration', 'integer') &&
    typeof cfg.cache_duration === 'number' &&
    cfg.cache_duration < 0
  )
    v.add('cache_duration', 'expected seconds >= 0');
  if (cfg.scopes_matcher !== undefined && !oneOf(SCOPES_MATCHERS, cfg.scopes_matcher))
    v.add('scopes_matcher', `expected ${orList(SCOPES_MATCHERS)}`);
  if (cfg.key_identify_strategy !== undefined && !oneOf(KEY_IDENTIFY_STRATEGIES, cfg.key_identify_strategy))
    v.add('key_identify_strategy', `expected ${orList(KEY_IDENTIFY_STRATEGIES)}`);
  if (cfg.propagate_claims !== undefined) {
    if (!Array.isArray(cfg.propagate_claims))
      v.add('propagate_claims', 'expected an array of ["claim", "Header"] pairs');
    else
      cfg.propagate_claims.forEach((pair, i) => {
        if (!isStringArray(pair) || pair.length !== 2 || pair[0] === '' || pair[1] === '')
          v.add(`propagate_claims[${i}]`, 'expected a pair ["claim", "Header-Name"]');
      });
  }
  if (cfg.roles !== undefined && (cfg.roles as string[]).length > 0 && !cfg.roles_key)
    v.add('roles_key', 'required when roles are set');
  if (cfg.scopes !== undefined && (cfg.scopes as string[]).length > 0 && !cfg.scopes_key)
    v.add('scopes_key', 'required when scopes are set');
  const url = cfg.jwk_url;
  const local = cfg.jwk_local_path;
  if (typeof local === 'string' && local !== '') {
    if (!existsSync(local)) v.add('jwk_local_path', `file not found: ${local}`);
    else
      try {
        new LocalKeySource(local, 'kid');
      } catch (err) {
        v.add('jwk_local_path', err instanceof Error ? err.message : String(err));
      }
  } else if (typeof url === 'string' && url !== '') {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      v.add('jwk_url', 'not a valid URL');
    }
    if (parsed && parsed.protocol !== 'https:' && cfg.disable_jwk_security !== true)
      v.add('jwk_url', 'the JWK URL must use https unless disable_jwk_security is true');
  } else {
    v.add('', 'expected jwk_url or jwk_local_path');
  }
  return v.issues;
}

export const jwtValidatorModule: FeatureModule = {
  namespace: JWT_VALIDATOR_NAMESPACE,
  schema: { type: 'object' },
  validate,
  endpoint(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
    if (!isObject(raw)) return undefined;
    const cfg = raw as ValidatorConfig;
    const source = keySourceFor(cfg, ctx.service, ctx.logger);
    source.warm();
    const validator = compileValidator(cfg, source, ctx.endpoint?.extra_config?.[CEL_NAMESPACE]);
    const debug = cfg.operation_debug === true;
    const logger = ctx.logger;
    const label = `[ENDPOINT: ${ctx.endpoint?.endpoint ?? ''}][JWTValidator]`;
    const unauthorized = emptyResponse(401);
    const forbidden = emptyResponse(403);
    const refusal = (err: unknown): GwResponse => {
      const status = err instanceof TokenError ? err.status : 401;
      if (debug)
        logger.error(
          `${label} Unable to validate the token: ${err instanceof Error ? err.message : 'error'}`,
        );
      return { ...(status === 403 ? forbidden : unauthorized), headers: {} };
    };
    const middleware: EndpointMiddleware =
      (next) =>
      async (req): Promise<GwResponse> => {
        let claims: Obj;
        try {
          claims = await validator.verify(req);
        } catch (err) {
          return refusal(err);
        }
        req.claims = claims;
        validator.propagate(req, claims);
        return next(req);
      };
    const verifyRemembered = validator.verifyRemembered;
    if (verifyRemembered !== undefined)
      middleware.guard = rememberedTokenGuard(verifyRemembered, refusal, (req, claims) =>
        validator.propagate(req, claims),
      );
    return middleware;
  },
};

/**
 * The validator as a guard: it decides at once for a token verified recently, or a request
 * without one; for any other request the middleware itself verifies the signature. `ready` keeps
 * its verdict for the `check` the pipeline then calls for the same request.
 */
function rememberedTokenGuard(
  verifyRemembered: (req: GwRequest) => Obj | undefined,
  refusal: (err: unknown) => GwResponse,
  propagate: (req: GwRequest, claims: Obj) => void,
): Guard {
  let claims: Obj | undefined;
  let error: unknown;
  return {
    // The token's two places (Authorization, or the cookie_key cookie).
    headers: ['authorization', 'cookie'],
    ready(req) {
      claims = undefined;
      error = undefined;
      try {
        claims = verifyRemembered(req);
      } catch (err) {
        error = err;
      }
      return claims !== undefined || error !== undefined;
    },
    check(req) {
      if (error !== undefined) return refusal(error);
      req.claims = claims;
      if (claims !== undefined) propagate(req, claims);
      return undefined;
    },
  };
}

/** `auth/jwk-client` only carries the service-level shared cache duration. */
export const jwkClientModule: FeatureModule = {
  namespace: JWK_CLIENT_NAMESPACE,
  schema: { type: 'object' },
  validate(raw, path) {
    if (!isObject(raw)) return [{ path, message: 'expected an object' }];
    const v = new IssueList(path);
    v.type(raw, 'shared_cache_duration', 'integer');
    return v.issues;
  },
};

export { parseJwkSet };
