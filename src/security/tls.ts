// The service `tls` block (the "TLS" page): reading, checking and turning it into listener options
// for the two fronts. KrakenD's defaults: TLS 1.3 only; `min_version`/`max_version` among SSL3.0,
// TLS10, TLS11, TLS12, TLS13; `cipher_suites` by IANA number (they apply to TLS ≤ 1.2; the three
// TLS 1.3 suites always stay on, as in Go); `curve_preferences` by Go's CurveID; certificates in
// `keys` [{public_key, private_key}] (or the legacy single pair at the top); mTLS with
// `enable_mtls` + `ca_certs`, the system pool included unless `disable_system_ca_pool`.
//
// uWebSockets.js' SSLApp only takes a certificate, a key, a CA file and a cipher list. Measured:
// it always serves TLS 1.2 and 1.3 (never ≤ 1.1), honours the TLS 1.2 cipher list, and with a CA
// file refuses untrusted client certificates but accepts clients sending none. So it cannot serve
// TLS 1.3 only (KrakenD's default), curves, several certificates, or mTLS. `uwsIncompatibility` says why when the uWS front cannot honour the
// block, and the server then uses the node:https front, which can.

import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { createRequire } from 'node:module';
import type * as nodeTls from 'node:tls';
import type { ConfigIssue } from '../types.js';
import { IssueList, isObject, isStringArray } from './util.js';

/** Go cipher suite IDs → OpenSSL names. */
export const CIPHER_SUITES: Record<number, string> = {
  5: 'RC4-SHA',
  10: 'DES-CBC3-SHA',
  47: 'AES128-SHA',
  53: 'AES256-SHA',
  60: 'AES128-SHA256',
  156: 'AES128-GCM-SHA256',
  157: 'AES256-GCM-SHA384',
  49159: 'ECDHE-ECDSA-RC4-SHA',
  49161: 'ECDHE-ECDSA-AES128-SHA',
  49162: 'ECDHE-ECDSA-AES256-SHA',
  49169: 'ECDHE-RSA-RC4-SHA',
  49170: 'ECDHE-RSA-DES-CBC3-SHA',
  49171: 'ECDHE-RSA-AES128-SHA',
  49172: 'ECDHE-RSA-AES256-SHA',
  49187: 'ECDHE-ECDSA-AES128-SHA256',
  49191: 'ECDHE-RSA-AES128-SHA256',
  49195: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  49196: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  49199: 'ECDHE-RSA-AES128-GCM-SHA256',
  49200: 'ECDHE-RSA-AES256-GCM-SHA384',
  52392: 'ECDHE-RSA-CHACHA20-POLY1305',
  52393: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  4865: 'TLS_AES_128_GCM_SHA256',
  4866: 'TLS_AES_256_GCM_SHA384',
  4867: 'TLS_CHACHA20_POLY1305_SHA256',
};
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** Go's default TLS 1.2 suites, in the order the page lists them. */
const DEFAULT_TLS12_SUITES = [49199, 49200, 52392, 49196, 52393, 49195];

const VERSIONS: Record<string, nodeTls.SecureVersion> = {
  'SSL3.0': 'TLSv1',
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};
const VERSION_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go CurveID → OpenSSL group name. */
const CURVES: Record<number, string> = { 23: 'P-256', 24: 'P-384', 25: 'P-521', 29: 'X25519' };

export interface TlsConfig {
  disabled?: boolean;
  public_key?: string;
  private_key?: string;
  keys?: Array<{ public_key: string; private_key: string }>;
  min_version?: string;
  max_version?: string;
  cipher_suites?: number[];
  curve_preferences?: number[];
  prefer_server_cipher_suites?: boolean;
  enable_mtls?: boolean;
  ca_certs?: string[];
  disable_system_ca_pool?: boolean;
}

export interface ListenerTls {
  /** PEM paths of the first key pair, for uWS. */
  certFile: string;
  keyFile: string;
  /** mTLS CA file for uWS (the first of ca_certs). */
  caFile?: string;
  /** Cipher list for uWS (TLS ≤ 1.2). */
  ciphers: string;
  /** Why uWS cannot serve this block exactly; undefined when it can. */
  uwsIncompatibility?: string;
  /** The whole block as node:https options. */
  node: https.ServerOptions;
}

function keyPairs(cfg: TlsConfig): Array<{ public_key: string; private_key: string }> {
  if (Array.isArray(cfg.keys) && cfg.keys.length > 0) return cfg.keys;
  if (cfg.public_key && cfg.private_key)
    return [{ public_key: cfg.public_key, private_key: cfg.private_key }];
  return [];
}

/** True when the service listens with TLS. */
export function tlsEnabled(tls: unknown): tls is TlsConfig {
  return isObject(tls) && tls.disabled !== true && keyPairs(tls as TlsConfig).length > 0;
}

/** Listener options for the service's `tls` block, or undefined when it serves plain HTTP. */
export function tlsOptionsFromConfig(service: { tls?: unknown }): ListenerTls | undefined {
  const cfg = service.tls;
  if (!tlsEnabled(cfg)) return undefined;
  const pairs = keyPairs(cfg);
  const minVersion = VERSIONS[cfg.min_version ?? 'TLS13'] ?? 'TLSv1.3';
  const maxVersion = VERSIONS[cfg.max_version ?? 'TLS13'] ?? 'TLSv1.3';
  const tls12 = (cfg.cipher_suites && cfg.cipher_suites.length > 0 ? cfg.cipher_suites : DEFAULT_TLS12_SUITES)
    .map((n) => CIPHER_SUITES[n])
    .filter((c): c is string => c !== undefined && !c.startsWith('TLS_'));
  const ciphers = [...TLS13_SUITES, ...tls12].join(':');
  const node: https.ServerOptions = {
    cert: pairs.map((p) => readFileSync(p.public_key)),
    key: pairs.map((p) => readFileSync(p.private_key)),
    minVersion,
    maxVersion,
    ciphers,
    honorCipherOrder: cfg.prefer_server_cipher_suites === true,
  };
  const curves = (cfg.curve_preferences ?? [])
    .map((c) => CURVES[c])
    .filter((c): c is string => c !== undefined);
  if (curves.length > 0) node.ecdhCurve = curves.join(':');
  const caFiles = cfg.ca_certs ?? [];
  if (cfg.enable_mtls === true) {
    const cas = caFiles.map((f) => readFileSync(f, 'utf8'));
    node.ca =
      cfg.disable_system_ca_pool === true
        ? cas
        : [...(createRequire(import.meta.url)('node:tls') as typeof nodeTls).rootCertificates, ...cas];
    node.requestCert = true;
    node.rejectUnauthorized = true;
  }

  const reasons: string[] = [];
  if (minVersion !== 'TLSv1.2' || maxVersion !== 'TLSv1.3')
    reasons.push(`protocol versions ${minVersion}..${maxVersion} (uWS serves TLS 1.2 and 1.3)`);
  if (pairs.length > 1) reasons.push('several certificates');
  if (curves.length > 0) reasons.push('curve_preferences');
  // uWS verifies a client certificate when one is sent but does not require one: not mTLS.
  if (cfg.enable_mtls === true) reasons.push('mTLS (uWS does not require a client certificate)');
  return {
    certFile: pairs[0].public_key,
    keyFile: pairs[0].private_key,
    caFile: cfg.enable_mtls === true ? caFiles[0] : undefined,
    ciphers: tls12.join(':'),
    uwsIncompatibility: reasons.length > 0 ? reasons.join(', ') : undefined,
    node,
  };
}

/** Checks the `tls` block; paths are `$.tls…`. */
export function validateTls(raw: unknown, path = '$.tls'): ConfigIssue[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const v = new IssueList(path);
  const cfg = raw as TlsConfig & Record<string, unknown>;
  for (const k of ['disabled', 'prefer_server_cipher_suites', 'enable_mtls', 'disable_system_ca_pool'])
    v.type(cfg, k, 'boolean');
  if (cfg.disabled === true) return v.issues;
  const checkFile = (sub: string, file: unknown) => {
    if (typeof file !== 'string' || file === '') v.add(sub, 'expected a file path');
    else if (!existsSync(file)) v.add(sub, `file not found: ${file}`);
  };
  if (cfg.keys !== undefined) {
    if (!Array.isArray(cfg.keys) || cfg.keys.length === 0)
      v.add('keys', 'expected an array of {"public_key", "private_key"}');
    else
      cfg.keys.forEach((k, i) => {
        if (!isObject(k)) {
          v.add(`keys[${i}]`, 'expected {"public_key", "private_key"}');
          return;
        }
        checkFile(`keys[${i}].public_key`, k.public_key);
        checkFile(`keys[${i}].private_key`, k.private_key);
      });
  } else if (cfg.public_key !== undefined || cfg.private_key !== undefined) {
    checkFile('public_key', cfg.public_key);
    checkFile('private_key', cfg.private_key);
  } else
    v.add(
      'keys',
      'TLS needs at least one key pair: "keys": [{"public_key": "cert.pem", "private_key": "key.pem"}]',
    );
  for (const k of ['min_version', 'max_version'] as const) {
    const val = cfg[k];
    if (val !== undefined && (typeof val !== 'string' || !(val in VERSIONS)))
      v.add(k, `expected one of ${Object.keys(VERSIONS).join(', ')}`);
  }
  const min = VERSIONS[cfg.min_version ?? 'TLS13'];
  const max = VERSIONS[cfg.max_version ?? 'TLS13'];
  if (min && max && VERSION_ORDER.indexOf(min) > VERSION_ORDER.indexOf(max))
    v.add('min_version', 'is above max_version (the default max_version is TLS13)');
  if (cfg.cipher_suites !== undefined) {
    if (!Array.isArray(cfg.cipher_suites))
      v.add('cipher_suites', 'expected an array of cipher suite numbers');
    else
      cfg.cipher_suites.forEach((c, i) => {
        if (typeof c !== 'number' || CIPHER_SUITES[c] === undefined)
          v.add(`cipher_suites[${i}]`, 'unknown cipher suite number');
      });
  }
  if (cfg.curve_preferences !== undefined) {
    if (!Array.isArray(cfg.curve_preferences))
      v.add('curve_preferences', 'expected an array of curve ids (23, 24, 25, 29)');
    else
      cfg.curve_preferences.forEach((c, i) => {
        if (typeof c !== 'number' || CURVES[c] === undefined)
          v.add(`curve_preferences[${i}]`, 'expected 23 (P-256), 24 (P-384), 25 (P-521) or 29 (X25519)');
      });
  }
  if (cfg.ca_certs !== undefined) {
    if (!isStringArray(cfg.ca_certs)) v.add('ca_certs', 'expected an array of PEM file paths');
    else
      cfg.ca_certs.forEach((f, i) => {
        checkFile(`ca_certs[${i}]`, f);
      });
  }
  if (
    cfg.enable_mtls === true &&
    (!Array.isArray(cfg.ca_certs) || cfg.ca_certs.length === 0) &&
    cfg.disable_system_ca_pool === true
  )
    v.add('ca_certs', 'mTLS without the system pool needs at least one CA file');
  return v.issues;
}
