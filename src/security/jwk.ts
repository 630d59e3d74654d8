// JWK sets for auth/validator and auth/signer: from a local file (read once at startup) or from a
// `jwk_url`, with the two cache levels of the "Shared JWK Caching" page:
//  - per endpoint (`cache`, `cache_duration`, default 15 min): keys kept by this validator;
//  - per service (`shared_cache_duration` under the root `auth/validator` or `auth/jwk-client`):
//    one download shared by every endpoint using the same URL.
// Without `cache`, as KrakenD does, the URL is read on every lookup (concurrent lookups share one
// download). When a download fails the last good set is used (fallback) and the failure logged.
// An unknown `kid` triggers a new download at most once per `unknownKidRefreshMs`, so tokens with
// made-up kids cannot turn the gateway into a flood against the identity provider.

import { constants, createHmac, verify as cryptoVerify, KeyObject, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { type CryptoKey, importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { KEY_IDENTIFY_STRATEGIES } from './jose-settings.js';
import { isObject } from './util.js';

/** Checks a JWS signature over `signingInput` (`header.payload`) with one key and algorithm. */
export type VerifyKey = (signingInput: string, signature: Buffer) => boolean;

/**
 * jose imports (and checks) the JWK; the per-request check then runs synchronously on node:crypto,
 * which costs a few µs instead of a WebCrypto round trip through the thread pool.
 */
export function verifierFor(alg: string, key: CryptoKey | Uint8Array): VerifyKey {
  const hash = `sha${alg.slice(2)}`;
  if (alg.startsWith('HS')) {
    const secret = key instanceof Uint8Array ? Buffer.from(key) : (KeyObject.from(key).export() as Buffer);
    return (input, sig) => {
      const mac = createHmac(hash, secret).update(input).digest();
      return mac.length === sig.length && timingSafeEqual(mac, sig);
    };
  }
  if (key instanceof Uint8Array) throw new Error(`${alg} needs an asymmetric key`);
  const ko = KeyObject.from(key);
  const guard =
    (check: (data: Buffer, sig: Buffer) => boolean): VerifyKey =>
    (input, sig) => {
      try {
        return check(Buffer.from(input), sig);
      } catch {
        return false;
      }
    };
  if (alg.startsWith('RS')) return guard((d, sig) => cryptoVerify(hash, d, ko, sig));
  if (alg.startsWith('PS'))
    return guard((d, sig) =>
      cryptoVerify(
        hash,
        d,
        { key: ko, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        sig,
      ),
    );
  if (alg.startsWith('ES'))
    return guard((d, sig) => cryptoVerify(hash, d, { key: ko, dsaEncoding: 'ieee-p1363' }, sig));
  if (alg === 'EdDSA') return guard((d, sig) => cryptoVerify(null, d, ko, sig));
  throw new Error(`unsupported algorithm ${alg}`);
}

export interface JwkSet {
  keys: JWK[];
}

export function parseJwkSet(text: string, origin: string): JwkSet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${origin}: not valid JSON`);
  }
  if (isObject(parsed) && Array.isArray(parsed.keys)) return { keys: parsed.keys.filter(isObject) as JWK[] };
  // A single JWK (signer files often hold just one key) is read as a set of one.
  if (isObject(parsed) && typeof parsed.kty === 'string') return { keys: [parsed as JWK] };
  throw new Error(`${origin}: expected a JWK Set ({"keys": [...]})`);
}

/** The keys of one downloaded/read set, imported lazily per (kid, alg) and kept. */
class ImportedSet {
  private readonly imported = new Map<string, Promise<VerifyKey | undefined>>();
  constructor(
    readonly set: JwkSet,
    readonly fetchedAt: number,
  ) {}

  find(id: string, strategy: KeyIdentifyStrategy): JWK | undefined {
    for (const k of this.set.keys) {
      if (strategy !== 'x5t' && k.kid === id) return k;
      if (strategy !== 'kid' && k.x5t === id) return k;
    }
    return undefined;
  }

  key(id: string, strategy: KeyIdentifyStrategy, alg: string): Promise<VerifyKey | undefined> {
    const cacheKey = `${strategy}\u0000${id}\u0000${alg}`;
    let p = this.imported.get(cacheKey);
    if (p === undefined) {
      const jwk = this.find(id, strategy);
      p =
        jwk === undefined
          ? Promise.resolve(undefined)
          : importJWK({ ...jwk, alg }, alg).then(
              (k) => verifierFor(alg, k),
              () => undefined,
            );
      this.imported.set(cacheKey, p);
    }
    return p;
  }
}

export type KeyIdentifyStrategy = (typeof KEY_IDENTIFY_STRATEGIES)[number];

export interface KeySource {
  /** Resolves the key for a token header id; undefined when no key matches. */
  key(id: string, alg: string): Promise<VerifyKey | undefined>;
  /** Starts the first download in the background (startup), so the first request does not wait. */
  warm(): void;
}

export class LocalKeySource implements KeySource {
  private readonly set: ImportedSet;
  constructor(
    file: string,
    private readonly strategy: KeyIdentifyStrategy,
  ) {
    this.set = new ImportedSet(parseJwkSet(readFileSync(file, 'utf8'), file), Date.now());
  }
  key(id: string, alg: string): Promise<VerifyKey | undefined> {
    return this.set.key(id, this.strategy, alg);
  }
  warm(): void {}
  get jwkSet(): JwkSet {
    return this.set.set;
  }
}

interface SharedEntry {
  set: ImportedSet | undefined;
  inflight: Promise<ImportedSet> | undefined;
}

/** One downloader per URL per worker, with the service-level (shared) cache. */
export class JwkDownloader {
  private readonly entries = new Map<string, SharedEntry>();
  constructor(
    private readonly sharedTtlMs: number,
    private readonly logger: Logger,
    private readonly timeoutMs = 5000,
  ) {}

  /** The set at `url`: from the shared cache when fresh, else downloaded (one download at a time). */
  get(url: string, dispatcher: Agent | undefined, force: boolean): Promise<ImportedSet> {
    let e = this.entries.get(url);
    if (e === undefined) {
      e = { set: undefined, inflight: undefined };
      this.entries.set(url, e);
    }
    const entry = e;
    if (!force && this.sharedTtlMs > 0 && entry.set && Date.now() - entry.set.fetchedAt < this.sharedTtlMs)
      return Promise.resolve(entry.set);
    if (entry.inflight) return entry.inflight;
    entry.inflight = this.download(url, dispatcher)
      .then((set) => {
        entry.set = set;
        return set;
      })
      .catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        if (entry.set) {
          this.logger.warn(`[JWK] ${url}: ${reason}; using the keys downloaded before`);
          return entry.set;
        }
        this.logger.error(`[JWK] ${url}: ${reason}`);
        throw err;
      })
      .finally(() => {
        entry.inflight = undefined;
      });
    return entry.inflight;
  }

  private async download(url: string, dispatcher: Agent | undefined): Promise<ImportedSet> {
    const res = await undiciFetch(url, {
      dispatcher,
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: { accept: 'application/json' },
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return new ImportedSet(parseJwkSet(text, url), Date.now());
  }
}

export interface RemoteOptions {
  url: string;
  cache: boolean;
  cacheTtlMs: number;
  strategy: KeyIdentifyStrategy;
  dispatcher?: Agent;
  unknownKidRefreshMs?: number;
}

export class RemoteKeySource implements KeySource {
  private set: ImportedSet | undefined;
  private lastForced = 0;
  private readonly unknownKidRefreshMs: number;

  constructor(
    private readonly downloader: JwkDownloader,
    private readonly opts: RemoteOptions,
  ) {
    this.unknownKidRefreshMs = opts.unknownKidRefreshMs ?? 10_000;
  }

  warm(): void {
    this.refresh(false).catch(() => {});
  }

  private async refresh(force: boolean): Promise<ImportedSet> {
    const set = await this.downloader.get(this.opts.url, this.opts.dispatcher, force);
    this.set = set;
    return set;
  }

  async key(id: string, alg: string): Promise<VerifyKey | undefined> {
    const { cache, cacheTtlMs, strategy } = this.opts;
    let set = this.set;
    const fresh = cache && set !== undefined && Date.now() - set.fetchedAt < cacheTtlMs;
    if (!fresh) {
      try {
        set = await this.refresh(false);
      } catch {
        if (!set) return undefined;
      }
    }
    if (set === undefined) return undefined;
    if (set.find(id, strategy) === undefined) {
      // A rotated key: download again, but not more than once per window.
      const now = Date.now();
      if (now - this.lastForced < this.unknownKidRefreshMs) return undefined;
      this.lastForced = now;
      try {
        set = await this.refresh(true);
      } catch {
        return undefined;
      }
    }
    return set.key(id, strategy, alg);
  }
}

/** An undici Agent trusting `ca` files in addition to (or instead of) the system pool. */
export function agentWithCa(caFiles: string[]): Agent | undefined {
  if (caFiles.length === 0) return undefined;
  return new Agent({
    connect: { ca: [...tls.rootCertificates, ...caFiles.map((f) => readFileSync(f, 'utf8'))] },
  });
}
