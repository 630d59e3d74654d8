// Backend HTTP calls through undici's low-level `dispatch` on keep-alive pools: measured at
// 0.96× nginx vs 0.71× with `Pool.request()` (DESIGN.md). One pool per origin per worker.

import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { Pool } from 'undici';
import type { ResponseHeaders } from '../types.js';

export interface HttpResult {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'connect' | 'reset' | 'protocol' | 'redirects',
  ) {
    super(message);
  }
}

export interface PoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
}

const defaultPoolOptions: PoolOptions = { connections: 256, keepAliveTimeoutMs: 30000 };

/** Pools by origin, shared by every backend of this worker that talks to the same origin. */
export class PoolRegistry {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly options: PoolOptions = defaultPoolOptions) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        pipelining: 1,
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.options.keepAliveTimeoutMs, 60000),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
  }
}

export interface CallOptions {
  method: string;
  path: string;
  /** Flat [name, value, name, value…] list. */
  headers: string[];
  body: Buffer | null;
  /** Deadline in ms from now (≤ 0: none). */
  timeoutMs: number;
  /** We asked for gzip on the client's behalf: undo it. */
  decompress: boolean;
  /** Follow 3xx as Go's http.Client does (up to 10). */
  followRedirects: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

function parseHeaders(raw: Buffer[]): ResponseHeaders {
  const headers: ResponseHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toString('latin1').toLowerCase();
    const v = raw[i + 1].toString('latin1');
    const prev = headers[k];
    if (prev === undefined) headers[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else headers[k] = [prev, v];
  }
  return headers;
}

/** One dispatch → a complete buffered response. The handler object is the only allocation. */
function dispatchOnce(
  pool: Pool,
  path: string,
  method: string,
  headers: string[],
  body: Buffer | null,
  timeoutMs: number,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let resHeaders: ResponseHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let abortFn: ((err?: Error) => void) | null = null;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        abortFn?.(new UpstreamError('context deadline exceeded', 'timeout'));
        reject(new UpstreamError('context deadline exceeded', 'timeout'));
      }, timeoutMs);
    }
    pool.dispatch({ path, method: method as never, headers, body: body ?? undefined }, {
      onConnect(abort: (err?: Error) => void) {
        abortFn = abort;
        if (settled) abort(new UpstreamError('context deadline exceeded', 'timeout'));
      },
      onHeaders(statusCode: number, rawHeaders: Buffer[]) {
        status = statusCode;
        resHeaders = parseHeaders(rawHeaders);
        return true;
      },
      onData(chunk: Buffer) {
        chunks.push(chunk);
        size += chunk.length;
        return true;
      },
      onComplete() {
        if (timer) clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve({
          status,
          headers: resHeaders,
          body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
        });
      },
      onError(err: Error) {
        if (timer) clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(toUpstreamError(err));
      },
    } as never);
  });
}

function toUpstreamError(err: Error): Error {
  if (err instanceof UpstreamError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return new UpstreamError(`connect: ${err.message}`, 'connect');
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED')
    return new UpstreamError(`connection reset: ${err.message}`, 'reset');
  return new UpstreamError(`invalid response: ${err.message}`, 'protocol');
}

function decompress(res: HttpResult): HttpResult {
  const enc = res.headers['content-encoding'];
  if (typeof enc !== 'string' || res.body.length === 0) return res;
  let body: Buffer;
  try {
    if (enc === 'gzip' || enc === 'x-gzip') body = gunzipSync(res.body);
    else if (enc === 'deflate') body = inflateSync(res.body);
    else if (enc === 'br') body = brotliDecompressSync(res.body);
    else return res;
  } catch (err) {
    throw new UpstreamError(`invalid ${enc} body: ${(err as Error).message}`, 'protocol');
  }
  const headers = { ...res.headers };
  delete headers['content-encoding'];
  delete headers['content-length'];
  return { status: res.status, headers, body };
}

const SENSITIVE_ON_REDIRECT = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2']);

/**
 * The headers of a redirected request, as Go's http.Client builds them: the original ones, minus
 * credentials when the new host is neither the previous one nor a subdomain of it, plus a Referer
 * naming the previous URL (unless the client sent one, or the hop goes from https to http).
 */
function redirectHeaders(initial: string[], from: URL, to: URL): string[] {
  const sameDomain = to.hostname === from.hostname || to.hostname.endsWith(`.${from.hostname}`);
  const out: string[] = [];
  let hasReferer = false;
  for (let i = 0; i < initial.length; i += 2) {
    const k = initial[i].toLowerCase();
    if (!sameDomain && SENSITIVE_ON_REDIRECT.has(k)) continue;
    if (k === 'referer') hasReferer = true;
    out.push(initial[i], initial[i + 1]);
  }
  if (!hasReferer && !(from.protocol === 'https:' && to.protocol === 'http:')) {
    from.username = '';
    from.password = '';
    out.push('Referer', from.href);
  }
  return out;
}

/** Calls `origin` + opts.path; follows redirects like Go's client; decompresses when asked. */
export async function callBackend(
  pools: PoolRegistry,
  origin: string,
  opts: CallOptions,
): Promise<HttpResult> {
  let pool = pools.get(origin);
  let path = opts.path;
  let method = opts.method;
  let body = opts.body;
  let headers = opts.headers;
  const started = opts.timeoutMs > 0 ? Date.now() : 0;
  for (let hops = 0; ; hops++) {
    const remaining = opts.timeoutMs > 0 ? opts.timeoutMs - (Date.now() - started) : 0;
    if (opts.timeoutMs > 0 && remaining <= 0) throw new UpstreamError('context deadline exceeded', 'timeout');
    let res = await dispatchOnce(pool, path, method, headers, body, remaining);
    if (opts.followRedirects && REDIRECTS.has(res.status)) {
      const location = res.headers.location;
      if (typeof location === 'string' && location !== '') {
        if (hops + 1 >= MAX_REDIRECTS) throw new UpstreamError('stopped after 10 redirects', 'redirects');
        const next = new URL(location, `${origin}${path}`);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') return res;
        headers = redirectHeaders(opts.headers, new URL(`${origin}${path}`), next);
        origin = next.origin;
        pool = pools.get(origin);
        path = `${next.pathname}${next.search}`;
        // Go: 301/302/303 turn non-GET/HEAD into GET without body; 307/308 keep both.
        if (
          res.status === 303 ||
          ((res.status === 301 || res.status === 302) && method !== 'GET' && method !== 'HEAD')
        ) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = null;
        }
        continue;
      }
    }
    if (opts.decompress) res = decompress(res);
    return res;
  }
}
