// The head of a backend GET, written from a template: the bytes gw's client writes for the
// request builder's header map when the backend forwards no client header (Content-Type,
// User-Agent, Accept-Encoding, X-Forwarded-For, X-Forwarded-Host, host, in that order), without
// building the map. The backend stage (backend-stage.ts) chooses it where it applies.

import { UpstreamError } from './errors.js';
import { INVALID_HEADER_VALUE, INVALID_PATH } from './h1-client.js';

export class BackendHeadTemplate {
  /** The fixed lines between Content-Type and X-Forwarded-For. */
  private readonly agentLines: string;
  /** The head's last line per host. */
  private readonly hostLines: string[];

  constructor(userAgent: string, origins: readonly string[]) {
    this.agentLines = `User-Agent: ${userAgent}\r\nAccept-Encoding: gzip\r\n`;
    this.hostLines = origins.map((origin) => `host: ${new URL(origin).host}\r\n\r\n`);
  }

  /**
   * The head of `GET path` to host number `host`; `contentType` and `forwardedHost` are the
   * client's ('' when absent). Throws the UpstreamError gw's client fails such a call with when a
   * value must not reach the wire.
   */
  head(path: string, contentType: string, forwardedHost: string, clientIp: string, host: number): string {
    if (INVALID_PATH.test(path)) throw invalid(`request path ${JSON.stringify(path)}`);
    if (INVALID_HEADER_VALUE.test(contentType)) throw invalid('Content-Type header value');
    if (INVALID_HEADER_VALUE.test(forwardedHost)) throw invalid('X-Forwarded-Host header value');
    let head = `GET ${path} HTTP/1.1\r\n`;
    if (contentType !== '') head += `Content-Type: ${contentType}\r\n`;
    head += `${this.agentLines}X-Forwarded-For: ${clientIp}\r\n`;
    if (forwardedHost !== '') head += `X-Forwarded-Host: ${forwardedHost}\r\n`;
    return head + this.hostLines[host];
  }
}

/** A header or path that must not reach the wire fails as gw's client fails it. */
function invalid(what: string): UpstreamError {
  return new UpstreamError(`invalid response: invalid ${what}`, 'GW_BACKEND_PROTOCOL');
}
