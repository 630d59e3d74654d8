// What can fail below an endpoint, each with a stable code, and how it becomes what the client
// sees: a BackendError with the status to answer, Lura's `return_error_details` object, and the
// warning line in the log (which names the code). Messages follow Lura's and Go's texts; codes
// are gw's own and do not change between releases:
//
//   GW_BACKEND_TIMEOUT     the deadline passed (endpoint or backend `timeout`)
//   GW_BACKEND_CONNECT     no connection could be opened (refused, unknown host, connect timeout)
//   GW_BACKEND_RESET       the connection closed before the answer was whole
//   GW_BACKEND_PROTOCOL    the answer is not valid HTTP, or its Content-Encoding is not
//   GW_BACKEND_REDIRECTS   more than 10 redirects (Go's http.Client limit)
//   GW_BACKEND_TOO_LARGE   the decompressed answer passed its byte limit
//   GW_BACKEND_STATUS      the backend answered other than 200 or 201
//   GW_BACKEND_DECODE      the body is not in the backend's `encoding`
//   GW_MISSING_VARIABLE    a url_pattern variable has no value in the request
//   GW_FAILED              anything else (a middleware's own error)

import type { Logger } from 'pino';
import { BackendError } from '../types.js';

export type FailureCode =
  | 'GW_BACKEND_TIMEOUT'
  | 'GW_BACKEND_CONNECT'
  | 'GW_BACKEND_RESET'
  | 'GW_BACKEND_PROTOCOL'
  | 'GW_BACKEND_REDIRECTS'
  | 'GW_BACKEND_TOO_LARGE'
  | 'GW_BACKEND_STATUS'
  | 'GW_BACKEND_DECODE'
  | 'GW_MISSING_VARIABLE'
  | 'GW_FAILED';

/** The backend call itself failed (no usable answer came back). */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code:
      | 'GW_BACKEND_TIMEOUT'
      | 'GW_BACKEND_CONNECT'
      | 'GW_BACKEND_RESET'
      | 'GW_BACKEND_PROTOCOL'
      | 'GW_BACKEND_REDIRECTS'
      | 'GW_BACKEND_TOO_LARGE',
  ) {
    super(message);
  }
}

/** The answer's body is not in the backend's `encoding`. */
export class DecodeError extends Error {
  readonly code = 'GW_BACKEND_DECODE';
}

/** A url_pattern variable (`{param}`, `{input_headers.X}`, `{resp0_x}`…) has no value. */
export class MissingVariableError extends Error {
  readonly code = 'GW_MISSING_VARIABLE';
}

export const deadlineExceeded = (): UpstreamError =>
  new UpstreamError('context deadline exceeded', 'GW_BACKEND_TIMEOUT');

/**
 * A client's error (gw's pool, undici, the socket) as an UpstreamError. gw's pool reports bad
 * answers with code `protocol`; undici and node:net with their own codes.
 */
export function toUpstreamError(err: Error): Error {
  if (err instanceof UpstreamError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'protocol') return new UpstreamError(err.message, 'GW_BACKEND_PROTOCOL');
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return new UpstreamError(`connect: ${err.message}`, 'GW_BACKEND_CONNECT');
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED')
    return new UpstreamError(`connection reset: ${err.message}`, 'GW_BACKEND_RESET');
  return new UpstreamError(`invalid response: ${err.message}`, 'GW_BACKEND_PROTOCOL');
}

/** The stable code of anything thrown below an endpoint. */
export function failureCode(err: unknown): FailureCode {
  if (err instanceof UpstreamError || err instanceof DecodeError || err instanceof MissingVariableError)
    return err.code;
  if (err instanceof BackendError && err.backendStatus !== undefined) return 'GW_BACKEND_STATUS';
  return 'GW_FAILED';
}

/** Normalises anything thrown below into a BackendError with the status the client may see. */
export function toBackendError(err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  if (err instanceof MissingVariableError) return new BackendError(err.message, 400);
  if (err instanceof UpstreamError || err instanceof DecodeError) return new BackendError(err.message, 500);
  return new BackendError(err instanceof Error ? err.message : String(err), 500);
}

/**
 * A failed backend's `error_<alias>` object (`return_error_details`), as Lura writes it
 * (luraproject/lura transport/http/client/status.go, HTTPResponseError: `http_body` and
 * `http_body_encoding` left out when empty), or undefined when the failure is not an answer
 * with a refused status: Lura then has no object to merge (proxy/http.go, NewHTTPProxyDetailed).
 */
export function errorDetails(err: unknown): Record<string, unknown> | undefined {
  if (!(err instanceof BackendError) || err.backendStatus === undefined) return undefined;
  const details: Record<string, unknown> = { http_status_code: err.backendStatus };
  const body = err.body ? err.body.toString('utf8') : '';
  if (body !== '') details.http_body = body;
  const encoding = err.headers?.['content-type'];
  if (encoding !== undefined && encoding !== '') details.http_body_encoding = encoding;
  return details;
}

/** The warning a failed backend call leaves in the log, with its code. */
export function logBackendFailure(
  logger: Logger,
  endpointLabel: string,
  backendLabel: string,
  err: unknown,
): void {
  const e = toBackendError(err);
  logger.warn(
    { code: failureCode(err) },
    `[BACKEND: ${endpointLabel} -> ${backendLabel}] ${e.message}${e.backendStatus ? ` (status ${e.backendStatus})` : ''}`,
  );
}
