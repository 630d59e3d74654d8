// The router's render of the proxy layer's answer, as Lura's router/gin/render.go and
// router/gin/endpoint.go write it: the status, X-Krakend and X-Krakend-Completed, Cache-Control
// from cache_ttl on complete answers, the body by the endpoint's output encoding — and the errors.
// Each answer takes the cheapest form the proxy layer left it in: a no-op answer read for passing
// on goes out with the backend's header lines as bytes, a WASM merge with gw's own lines as bytes,
// anything else through a header map.

import { sortedJson } from '../security/util.js';
import type { GwRequest, GwResponse, ProxyResponse, Reply, ResponseHeaders } from '../types.js';
import type { Encoder } from './encodings.js';
import { NOT_PASSED } from './h1-parser.js';
import type { ProxyDone } from './merge.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export interface RenderOptions {
  /** X-Krakend's value. */
  versionHeader: string;
  /** Cache-Control for complete answers (cache_ttl), or undefined. */
  cacheControl: string | undefined;
  /** `return_error_msg`: a failure's text (or the backend's own body) as the error body. */
  returnErrorMsg: boolean;
  encoder: Encoder;
  /**
   * The endpoint has `auth/signer`: krakend-jose's TokenSigner (gin/jose.go) answers instead of
   * lura's endpoint handler — any failure is a bare 400; otherwise the data as JSON with the
   * proxy's headers, without X-Krakend, X-Krakend-Completed or Cache-Control, whatever the
   * output encoding.
   */
  signerAnswer?: boolean;
}

function hasKeys(data: Record<string, unknown> | null): boolean {
  if (data === null) return false;
  for (const _ in data) return true;
  return false;
}

export class Renderer {
  /** X-Krakend and X-Krakend-Completed of a passed no-op answer (never complete). */
  private readonly passedLines: Buffer;
  private readonly completeJsonLines: Buffer;
  private readonly incompleteJsonLines: Buffer;

  constructor(private readonly o: RenderOptions) {
    this.passedLines = Buffer.from(`\r\nX-Krakend: ${o.versionHeader}\r\nX-Krakend-Completed: false`);
    const lines = `\r\ncontent-type: ${JSON_TYPE}\r\nx-krakend: ${o.versionHeader}\r\nx-krakend-completed: `;
    this.completeJsonLines = Buffer.from(
      `${lines}true${o.cacheControl ? `\r\ncache-control: ${o.cacheControl}` : ''}`,
    );
    this.incompleteJsonLines = Buffer.from(`${lines}false`);
  }

  write(pr: ProxyResponse, req: GwRequest, reply: Reply): void {
    if (this.o.signerAnswer) {
      reply.answer(this.signed(pr));
      return;
    }
    const raw = pr.raw;
    if (raw !== undefined) {
      const stream = pr.stream;
      if (stream !== undefined) reply.passStream(pr.status ?? 200, pr.head ?? null, this.passedLines, stream);
      else if (pr.head !== undefined) reply.pass(pr.status ?? 200, pr.head, this.passedLines, raw);
      else reply.answer(this.noop(pr, raw));
      return;
    }
    const json = pr.json;
    if (json !== undefined) {
      // As lura's router (router/gin/endpoint.go): complete, and cacheable, only with non-empty
      // data (the byte path writes `{}` for none).
      const complete = pr.isComplete && json.length > 2;
      reply.pass(pr.status ?? 200, null, complete ? this.completeJsonLines : this.incompleteJsonLines, json);
      return;
    }
    if (pr.data === null) {
      reply.answer(this.error(pr));
      return;
    }
    const complete = pr.isComplete && hasKeys(pr.data);
    const encoded = this.o.encoder(pr.data, req);
    const headers: ResponseHeaders = {
      'content-type': encoded.contentType,
      'x-krakend': this.o.versionHeader,
      'x-krakend-completed': complete ? 'true' : 'false',
    };
    if (complete && this.o.cacheControl) headers['cache-control'] = this.o.cacheControl;
    if (pr.headers) for (const k in pr.headers) headers[k] = pr.headers[k];
    reply.answer({ status: pr.status ?? 200, headers, body: encoded.body });
  }

  /** gin/jose.go TokenSigner's answer: c.AbortWithStatus(400) on any error, else c.JSON. */
  private signed(pr: ProxyResponse): GwResponse {
    if (pr.data === null || pr.error !== undefined || !pr.isComplete)
      return { status: 400, headers: {}, body: '' };
    const headers: ResponseHeaders = {};
    // c.Header(k, v[0]) for the proxy response's headers, then c.JSON's Content-Type
    if (pr.headers)
      for (const k in pr.headers) {
        const v = pr.headers[k];
        headers[k] = Array.isArray(v) ? v[0] : v;
      }
    headers['content-type'] = JSON_TYPE;
    return { status: pr.status ?? 200, headers, body: sortedJson(pr.data) };
  }

  /** A no-op answer from a header map: the backend's status, headers (but framing, Date, Server) and bytes. */
  private noop(pr: ProxyResponse, raw: Buffer): GwResponse {
    const headers: ResponseHeaders = {};
    const src = pr.headers ?? {};
    for (const k in src) if (!NOT_PASSED.has(k)) headers[k] = src[k];
    headers['x-krakend'] = this.o.versionHeader;
    headers['x-krakend-completed'] = 'false';
    return { status: pr.status ?? 200, headers, body: raw };
  }

  /**
   * The answer when no data came: the error's status and, with return_error_msg, its text
   * (luraproject/lura router/gin/endpoint.go, CustomErrorEndpointHandler and ErrorResponseWriter).
   * A return_error_code failure's text is the backend's body, sent with the backend's Content-Type
   * (HTTPResponseError.Encoding); any other text goes as Go's content sniffing labels it.
   */
  private error(pr: ProxyResponse): GwResponse {
    const err = pr.error;
    const status = err ? err.status : 500;
    const headers: ResponseHeaders = { 'x-krakend': this.o.versionHeader, 'x-krakend-completed': 'false' };
    let body: Buffer | string = '';
    if (this.o.returnErrorMsg && err) {
      if (err.passesBackendAnswer) {
        body = err.body ?? '';
        const type = err.headers?.['content-type'];
        if (type !== undefined && type !== '') headers['content-type'] = type;
      } else {
        body = err.message;
        // lura's ErrorResponseWriter sets an encoded error's Content-Type (a Lua custom_error's
        // third argument); a backend's refused answer is not one, and Go sniffs the rest as text
        const type = err.backendStatus === undefined ? err.headers?.['content-type'] : undefined;
        if (type !== undefined && type !== '') headers['content-type'] = type;
      }
      if (body.length > 0 && headers['content-type'] === undefined)
        headers['content-type'] = 'text/plain; charset=utf-8';
    }
    if (pr.headers) for (const k in pr.headers) headers[k] = pr.headers[k];
    return { status, headers, body };
  }
}

/** The proxy layer's answer of one request, rendered into its reply. */
export class RenderedReply implements ProxyDone {
  constructor(
    private readonly renderer: Renderer,
    private readonly req: GwRequest,
    private readonly reply: Reply,
  ) {}

  done(pr: ProxyResponse): void {
    this.renderer.write(pr, this.req, this.reply);
  }
}
