// `security/http` (service level): the "HTTP Security" page, with the semantics of
// unrolled/secure that KrakenD uses. Runs for every request, before routing:
//  - `allowed_hosts` (Host, or the first `host_proxy_headers` present): other hosts get
//    unrolled/secure's answer, 500 "Bad Host" (the page only says the request is rejected);
//  - `ssl_redirect`: plain-HTTP requests are redirected (301, or 307 with
//    `ssl_temporary_redirect`) to https on `ssl_host` or the request host; a request counts as
//    HTTPS when the listener has TLS or one of `ssl_proxy_headers` matches;
//  - response headers: HSTS (HTTPS only, unless `force_sts_header`), X-Frame-Options,
//    X-Content-Type-Options, X-XSS-Protection, Public-Key-Pins (HTTPS), CSP, Referrer-Policy.
// `is_development` turns off the host check, the redirect, HSTS and HPKP, as in unrolled/secure.

import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
  ResponseHeaders,
} from '../types.js';
import { IssueList, isObject, rootOnlyWarning } from './util.js';

export const HTTP_SECURITY_NAMESPACE = 'security/http';

export interface HttpSecurityConfig {
  allowed_hosts?: string[];
  allowed_hosts_are_regex?: boolean;
  host_proxy_headers?: string[];
  ssl_redirect?: boolean;
  ssl_temporary_redirect?: boolean;
  ssl_host?: string;
  ssl_proxy_headers?: Record<string, string>;
  sts_seconds?: number;
  sts_include_subdomains?: boolean;
  sts_preload?: boolean;
  force_sts_header?: boolean;
  frame_deny?: boolean;
  custom_frame_options_value?: string;
  content_type_nosniff?: boolean;
  browser_xss_filter?: boolean;
  custom_browser_xss_value?: string;
  content_security_policy?: string;
  referrer_policy?: string;
  hpkp_public_key?: string;
  permissions_policy?: string;
  is_development?: boolean;
}

export type SecurityDecision =
  | { kind: 'pass'; headers: ResponseHeaders }
  | { kind: 'answer'; response: GwResponse };

export function compileHttpSecurity(
  cfg: HttpSecurityConfig,
  listenerIsTls: boolean,
): (req: GwRequest) => SecurityDecision {
  const dev = cfg.is_development === true;
  const allowed = dev ? [] : (cfg.allowed_hosts ?? []);
  const hostRegexes = cfg.allowed_hosts_are_regex ? allowed.map((h) => new RegExp(`^${h}$`)) : null;
  const allowedLower = new Set(allowed.map((h) => h.toLowerCase()));
  const hostHeaders = (cfg.host_proxy_headers ?? []).map((h) => h.toLowerCase());
  const sslProxy = Object.entries(cfg.ssl_proxy_headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  const redirect = cfg.ssl_redirect === true && !dev;
  const redirectStatus = cfg.ssl_temporary_redirect ? 307 : 301;
  const sslHost = cfg.ssl_host ?? '';

  const common: ResponseHeaders = {};
  if (cfg.custom_frame_options_value) common['x-frame-options'] = cfg.custom_frame_options_value;
  else if (cfg.frame_deny) common['x-frame-options'] = 'DENY';
  if (cfg.content_type_nosniff) common['x-content-type-options'] = 'nosniff';
  if (cfg.custom_browser_xss_value) common['x-xss-protection'] = cfg.custom_browser_xss_value;
  else if (cfg.browser_xss_filter) common['x-xss-protection'] = '1; mode=block';
  if (cfg.content_security_policy) common['content-security-policy'] = cfg.content_security_policy;
  if (cfg.referrer_policy) common['referrer-policy'] = cfg.referrer_policy;
  if (cfg.permissions_policy) common['permissions-policy'] = cfg.permissions_policy;

  const secure: ResponseHeaders = { ...common };
  const stsSeconds = cfg.sts_seconds ?? 0;
  let sts = '';
  if (stsSeconds !== 0 && !dev) {
    sts = `max-age=${stsSeconds}${cfg.sts_include_subdomains ? '; includeSubDomains' : ''}${cfg.sts_preload ? '; preload' : ''}`;
    secure['strict-transport-security'] = sts;
  }
  if (cfg.hpkp_public_key && !dev) secure['public-key-pins'] = cfg.hpkp_public_key;
  const plain: ResponseHeaders = { ...common };
  if (sts !== '' && cfg.force_sts_header) plain['strict-transport-security'] = sts;
  const badHost: GwResponse = {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    body: 'Bad Host\n',
  };

  const hostOf = (req: GwRequest): string => {
    for (const h of hostHeaders) {
      const v = req.headers[h];
      if (v) return v;
    }
    return req.headers.host ?? '';
  };
  const isSsl = (req: GwRequest): boolean => {
    if (listenerIsTls) return true;
    for (const [k, v] of sslProxy) if (req.headers[k] === v) return true;
    return false;
  };

  return (req) => {
    const host = allowed.length > 0 || redirect ? hostOf(req) : '';
    if (allowed.length > 0) {
      const ok = hostRegexes ? hostRegexes.some((r) => r.test(host)) : allowedLower.has(host.toLowerCase());
      if (!ok) return { kind: 'answer', response: badHost };
    }
    const ssl = isSsl(req);
    if (redirect && !ssl) {
      const target = `https://${sslHost !== '' ? sslHost : host}${req.path}${req.query !== '' ? `?${req.query}` : ''}`;
      const body =
        req.method === 'GET' || req.method === 'HEAD'
          ? `<a href="${target.replace(/&/g, '&amp;').replace(/"/g, '&#34;').replace(/</g, '&lt;')}">${redirectStatus === 301 ? 'Moved Permanently' : 'Temporary Redirect'}</a>.\n\n`
          : '';
      return {
        kind: 'answer',
        response: {
          status: redirectStatus,
          headers: { location: target, ...(body ? { 'content-type': 'text/html; charset=utf-8' } : {}) },
          body,
        },
      };
    }
    return { kind: 'pass', headers: ssl ? secure : plain };
  };
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const notRoot = rootOnlyWarning(HTTP_SECURITY_NAMESPACE, path);
  if (notRoot) return [notRoot];
  const v = new IssueList(path);
  for (const k of ['allowed_hosts', 'host_proxy_headers']) v.type(raw, k, 'string[]');
  for (const k of [
    'allowed_hosts_are_regex',
    'ssl_redirect',
    'ssl_temporary_redirect',
    'sts_include_subdomains',
    'sts_preload',
    'force_sts_header',
    'frame_deny',
    'content_type_nosniff',
    'browser_xss_filter',
    'is_development',
  ])
    v.type(raw, k, 'boolean');
  for (const k of [
    'ssl_host',
    'custom_frame_options_value',
    'custom_browser_xss_value',
    'content_security_policy',
    'referrer_policy',
    'hpkp_public_key',
    'permissions_policy',
  ])
    v.type(raw, k, 'string');
  if (v.type(raw, 'sts_seconds', 'integer') && typeof raw.sts_seconds === 'number' && raw.sts_seconds < 0)
    v.add('sts_seconds', 'expected seconds >= 0');
  if (v.type(raw, 'ssl_proxy_headers', 'object') && isObject(raw.ssl_proxy_headers))
    for (const [k, val] of Object.entries(raw.ssl_proxy_headers))
      if (typeof val !== 'string') v.add(`ssl_proxy_headers["${k}"]`, 'expected a string');
  if (raw.allowed_hosts_are_regex === true && Array.isArray(raw.allowed_hosts))
    raw.allowed_hosts.forEach((h, i) => {
      try {
        new RegExp(String(h));
      } catch {
        v.add(`allowed_hosts[${i}]`, 'not a valid regular expression');
      }
    });
  return v.issues;
}

/** True when the listener serves TLS (a `tls` block with keys that is not disabled). */
export function listenerHasTls(service: { tls?: Record<string, unknown> }): boolean {
  const t = service.tls;
  if (!isObject(t) || t.disabled === true) return false;
  return (Array.isArray(t.keys) && t.keys.length > 0) || typeof t.public_key === 'string';
}

export const httpSecurityModule: FeatureModule = {
  namespace: HTTP_SECURITY_NAMESPACE,
  schema: { type: 'object' },
  validate,
  service(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
    if (!isObject(raw)) return undefined;
    const decide = compileHttpSecurity(raw as HttpSecurityConfig, listenerHasTls(ctx.service));
    return (next) => async (req) => {
      const d = decide(req);
      if (d.kind === 'answer') return d.response;
      const res = await next(req);
      // A redirect from below keeps its own headers, as KrakenD's handler aborts on 3xx.
      const h = d.headers;
      let any = false;
      for (const _ in h) {
        any = true;
        break;
      }
      if (!any) return res;
      return { status: res.status, headers: { ...h, ...res.headers }, body: res.body };
    };
  },
};
