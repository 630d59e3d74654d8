import { STATUS_TEXT } from './status-text.js';

// The HTTP/1.1 rules gw applies to every request head, on either front, beyond what the front's
// own parser enforces (RFC 9112; RFC 9110 §7.2 for Host). Both fronts feed a HeadScan header by
// header and ask `refusalOf` once: one place decides which heads are refused and with what.
//
// The answers are the ones Go's net/http server writes (what KrakenD's clients see): a status
// line, `text/plain; charset=utf-8`, `Connection: close`, and a body naming the reason
// (net/http server.go: "400 Bad Request: missing required Host header"). One difference: Go
// answers an unknown transfer coding with 501; gw refuses every transfer coding but a single
// `chunked` with 400, as bad framing.

/** A head refused before routing: always answered with `Connection: close`, then closed. */
export interface Refusal {
  readonly status: number;
  /** The body's framing is in doubt: what follows the head on the connection is not a request. */
  readonly framing: boolean;
  /** `400 Bad Request`: the status line's code and text. */
  readonly line: string;
  /** The line, then the reason when there is one. */
  readonly body: string;
}

function refusal(status: number, reason?: string, framing = false): Refusal {
  const line = `${status} ${STATUS_TEXT[status]}`;
  return Object.freeze({ status, framing, line, body: reason === undefined ? line : `${line}: ${reason}` });
}

export const REFUSED = {
  badRequest: refusal(400),
  badFraming: refusal(400, undefined, true),
  missingHost: refusal(400, 'missing required Host header'),
  manyHosts: refusal(400, 'too many Host headers'),
  badHost: refusal(400, 'malformed Host header'),
  badName: refusal(400, 'invalid header name'),
  badValue: refusal(400, 'invalid header value'),
  badTarget: refusal(400, 'malformed request target'),
  headTooLarge: refusal(431),
  targetTooLong: refusal(414),
  bodyTooLarge: refusal(413),
  timeout: refusal(408),
} as const;

// A header name is a token (RFC 9110 §5.1); fronts hand names over lower-cased.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// A field value: visible characters, spaces, tabs and obs-text; no other control byte.
const CONTROL = /[^\t\x20-\x7e\x80-\uffff]/;
// Go's httpguts.ValidHostHeader: the bytes a Host may hold (reg-name, IP literal, port).
const HOST = /^[0-9A-Za-z!$%&'()*+,\-.:;=[\]_~]*$/;
// A transfer coding list holding exactly `chunked`.
const CHUNKED = /^chunked$/i;

/**
 * What a head says about framing and the connection, gathered one header at a time. One per
 * thread, reset per request (`reset`), read synchronously by `refusalOf`.
 */
export class HeadScan {
  hosts = 0;
  host = '';
  contentLengths = 0;
  contentLength = '';
  transferEncodings = 0;
  transferEncoding = '';
  /** `Connection: close` asked. */
  close = false;
  /** `Connection: keep-alive` asked (what keeps an HTTP/1.0 connection open). */
  keepAlive = false;
  badName = false;
  badValue = false;
  /** Bytes of the head's header lines, as `name: value\r\n`. */
  bytes = 0;
  /** Whether names and values are checked here (a front whose parser lets bad ones through). */
  constructor(private readonly checksCharacters: boolean) {}

  reset(): void {
    this.hosts = 0;
    this.host = '';
    this.contentLengths = 0;
    this.contentLength = '';
    this.transferEncodings = 0;
    this.transferEncoding = '';
    this.close = false;
    this.keepAlive = false;
    this.badName = false;
    this.badValue = false;
    this.bytes = 0;
  }

  /** One header line; `name` lower-cased. */
  add(name: string, value: string): void {
    this.bytes += name.length + value.length + 4;
    if (this.checksCharacters) {
      if (!TOKEN.test(name)) this.badName = true;
      if (CONTROL.test(value)) this.badValue = true;
    }
    switch (name.length) {
      case 4:
        if (name === 'host') {
          this.hosts++;
          this.host = value;
        }
        break;
      case 10:
        if (name === 'connection') this.connectionTokens(value);
        break;
      case 14:
        if (name === 'content-length') {
          this.contentLengths++;
          this.contentLength = value;
        }
        break;
      case 17:
        if (name === 'transfer-encoding') {
          this.transferEncodings++;
          this.transferEncoding = value;
        }
        break;
    }
  }

  /**
   * The Host read by name (a front whose parser refused a missing or repeated one): its syntax is
   * judged by `refusalOf`, whose check leaves no room for a control byte.
   */
  addHost(value: string): void {
    this.bytes += value.length + 8;
    this.hosts++;
    this.host = value;
  }

  /** The Connection header read by name. */
  addConnection(value: string): void {
    this.bytes += value.length + 14;
    if (this.checksCharacters && CONTROL.test(value)) this.badValue = true;
    this.connectionTokens(value);
  }

  /** Any other header read by name: only its value is checked (its name is known good). */
  addValue(name: string, value: string): void {
    this.bytes += name.length + value.length + 4;
    if (this.checksCharacters && CONTROL.test(value)) this.badValue = true;
  }

  private connectionTokens(value: string): void {
    // Most clients send one token, in lower case.
    if (value === 'keep-alive') {
      this.keepAlive = true;
      return;
    }
    if (value === 'close') {
      this.close = true;
      return;
    }
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t === 'close') this.close = true;
      else if (t === 'keep-alive') this.keepAlive = true;
    }
  }

  /** The body's framing is declared: a Content-Length other than 0, or a Transfer-Encoding. */
  hasBody(): boolean {
    return this.transferEncodings > 0 || (this.contentLengths > 0 && this.contentLength !== '0');
  }
}

/**
 * Why the head must be refused, or undefined when it may be served. `http11`: the request line
 * says HTTP/1.1 (an HTTP/1.0 request may come without Host).
 */
export function refusalOf(scan: HeadScan, http11: boolean, maxHeaderBytes: number): Refusal | undefined {
  if (scan.bytes > maxHeaderBytes) return REFUSED.headTooLarge;
  if (scan.badName) return REFUSED.badName;
  if (scan.badValue) return REFUSED.badValue;
  if (scan.hosts > 1) return REFUSED.manyHosts;
  if (scan.hosts === 0) {
    if (http11) return REFUSED.missingHost;
  } else if (!HOST.test(scan.host)) return REFUSED.badHost;
  // Framing (RFC 9112 §6.3): one body length, stated once, in one way.
  if (scan.contentLengths > 0) {
    if (scan.contentLengths > 1 || scan.transferEncodings > 0) return REFUSED.badFraming;
    if (!/^\d{1,15}$/.test(scan.contentLength)) return REFUSED.badFraming;
  }
  if (
    scan.transferEncodings > 0 &&
    (scan.transferEncodings > 1 || !CHUNKED.test(scan.transferEncoding.trim()))
  )
    return REFUSED.badFraming;
  return undefined;
}

/**
 * The origin-form path of a request target (RFC 9112 §3.2): an absolute-form target
 * (`http://host/path`, what a client talking to a proxy sends) is served by its path; undefined
 * for a target that is neither.
 */
export function originPath(target: string): string | undefined {
  if (target.charCodeAt(0) === 47) return target;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (scheme === null) return undefined;
  const rest = target.slice(scheme[0].length);
  return rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : undefined;
}

/** The whole answer to a refused head, as bytes a front writes on the socket before closing it. */
export function refusalBytes(r: Refusal): string {
  return `HTTP/1.1 ${r.line}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
}
