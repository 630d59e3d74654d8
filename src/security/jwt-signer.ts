// `auth/signer`: signs the `keys_to_sign` objects of the merged response as JWS, as the "JWT
// Signing" page and krakend-jose do (jws.go NewSigner, jose.go SignFields): the payload is the
// object's JSON as Go's encoding/json writes it (sorted keys, HTML characters escaped), the
// protected header `{"alg","kid","typ"}` with `typ` "JWT" unless the config's `typ` says
// otherwise (go-jose writes the header's keys sorted), compact serialization by default and the
// JSON (full) serialization with `full: true`. Keys that are absent or not objects are left as
// they are. The private key (jwk_local_path or jwk_url) is loaded once, at startup or on the
// first request, and never logged. The answer itself is krakend-jose's (gin/jose.go
// TokenSigner), written by the endpoint's renderer (src/proxy/render.ts, `signerAnswer`).

import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { CompactSign, FlattenedSign, importJWK, type JWK } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import type { CompileContext, ConfigIssue, FeatureModule, ProxyMiddleware } from '../types.js';
import { BackendError } from '../types.js';
import { JWS_ALGORITHMS } from './jose-settings.js';
import { type JwkSet, LocalKeySource, parseJwkSet } from './jwk.js';
import { IssueList, isObject, sortedJson } from './util.js';

export const JWT_SIGNER_NAMESPACE = 'auth/signer';

interface SignerConfig {
  alg: string;
  kid: string;
  typ?: string;
  keys_to_sign: string[];
  jwk_url?: string;
  jwk_local_path?: string;
  jwk_local_ca?: string;
  full?: boolean;
  disable_jwk_security?: boolean;
}

type SignKey = Awaited<ReturnType<typeof importJWK>>;

async function loadSet(cfg: SignerConfig): Promise<JwkSet> {
  if (cfg.jwk_local_path) return new LocalKeySource(cfg.jwk_local_path, 'kid').jwkSet;
  const dispatcher = cfg.jwk_local_ca
    ? new Agent({ connect: { ca: [...tls.rootCertificates, readFileSync(cfg.jwk_local_ca, 'utf8')] } })
    : undefined;
  const res = await undiciFetch(cfg.jwk_url as string, { dispatcher, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`JWK download answered ${res.status}`);
  return parseJwkSet(text, cfg.jwk_url as string);
}

export function compileSigner(cfg: SignerConfig): (data: Record<string, unknown>) => Promise<void> {
  let keyPromise: Promise<SignKey> | undefined;
  const key = (): Promise<SignKey> => {
    keyPromise ??= loadSet(cfg).then((set) => {
      const jwk = set.keys.find((k: JWK) => k.kid === cfg.kid);
      if (!jwk) throw new Error(`no key with kid ${JSON.stringify(cfg.kid)} in the signer's JWK set`);
      return importJWK({ ...jwk, alg: cfg.alg }, cfg.alg);
    });
    keyPromise.catch(() => {
      // A failed download is retried on the next request.
      keyPromise = undefined;
    });
    return keyPromise;
  };
  const header = {
    alg: cfg.alg,
    kid: cfg.kid,
    typ: cfg.typ !== undefined && cfg.typ !== '' ? cfg.typ : 'JWT',
  };
  const keys = cfg.keys_to_sign;
  const full = cfg.full === true;
  const encoder = new TextEncoder();
  return async (data) => {
    let k: SignKey | undefined;
    for (const name of keys) {
      const value = data[name];
      if (!isObject(value)) continue;
      k ??= await key();
      const payload = encoder.encode(sortedJson(value));
      if (full) {
        const jws = await new FlattenedSign(payload).setProtectedHeader(header).sign(k);
        data[name] = JSON.stringify({
          payload: jws.payload,
          protected: jws.protected,
          signature: jws.signature,
        });
      } else {
        data[name] = await new CompactSign(payload).setProtectedHeader(header).sign(k);
      }
    }
  };
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const v = new IssueList(path);
  if (typeof raw.alg !== 'string' || !(JWS_ALGORITHMS as readonly string[]).includes(raw.alg))
    v.add('alg', `required; one of ${JWS_ALGORITHMS.join(', ')}`);
  if (typeof raw.kid !== 'string' || raw.kid === '') v.add('kid', 'required: the kid of the signing key');
  if (!Array.isArray(raw.keys_to_sign) || !raw.keys_to_sign.every((k) => typeof k === 'string'))
    v.add('keys_to_sign', 'required: an array of response keys to sign');
  for (const k of ['full', 'disable_jwk_security']) v.type(raw, k, 'boolean');
  v.type(raw, 'typ', 'string');
  if (typeof raw.jwk_local_path === 'string' && raw.jwk_local_path !== '') {
    try {
      const set = new LocalKeySource(raw.jwk_local_path, 'kid').jwkSet;
      if (typeof raw.kid === 'string' && !set.keys.some((k) => k.kid === raw.kid))
        v.add('kid', `no key with this kid in ${raw.jwk_local_path}`);
    } catch (err) {
      v.add('jwk_local_path', err instanceof Error ? err.message : String(err));
    }
  } else if (typeof raw.jwk_url === 'string' && raw.jwk_url !== '') {
    if (!/^https:\/\//i.test(raw.jwk_url) && raw.disable_jwk_security !== true)
      v.add('jwk_url', 'the JWK URL must use https unless disable_jwk_security is true');
  } else v.add('', 'expected jwk_url or jwk_local_path');
  return v.issues;
}

export const jwtSignerModule: FeatureModule = {
  namespace: JWT_SIGNER_NAMESPACE,
  schema: { type: 'object' },
  validate,
  proxy(raw: unknown, ctx: CompileContext): ProxyMiddleware | undefined {
    if (!isObject(raw) || !Array.isArray(raw.keys_to_sign) || raw.keys_to_sign.length === 0) return undefined;
    const sign = compileSigner(raw as unknown as SignerConfig);
    const logger = ctx.logger;
    const label = `[ENDPOINT: ${ctx.endpoint?.endpoint ?? ''}][JWTSigner]`;
    return (next) => async (req) => {
      const pr = await next(req);
      if (pr.data === null) return pr;
      try {
        await sign(pr.data);
      } catch (err) {
        // gin/jose.go TokenSigner: a signing error is a 400 (the renderer's signer answer)
        logger.error(`${label} signing failed: ${err instanceof Error ? err.message : 'error'}`);
        return { data: null, isComplete: false, error: new BackendError('unable to sign the response', 400) };
      }
      return pr;
    };
  },
};
