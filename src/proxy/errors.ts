// How anything that fails below an endpoint becomes what the client sees: a BackendError with the
// status to answer, Lura's `return_error_details` object, and the warning line in the log.

import type { Logger } from 'pino';
import { BackendError } from '../types.js';
import { MissingVariableError } from './backend-request.js';
import { DecodeError } from './encodings.js';
import { UpstreamError } from './http-client.js';

/** Normalises anything thrown below into a BackendError with the status the client may see. */
export function toBackendError(err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  if (err instanceof MissingVariableError) return new BackendError(err.message, 400);
  if (err instanceof UpstreamError || err instanceof DecodeError) return new BackendError(err.message, 500);
  return new BackendError(err instanceof Error ? err.message : String(err), 500);
}

/** A failed backend's `error_<alias>` object (`return_error_details`), as Lura writes it. */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (err instanceof BackendError) {
    return {
      http_status_code: err.backendStatus ?? err.status,
      http_body: err.body ? err.body.toString('utf8') : err.message,
    };
  }
  return { http_status_code: 0, http_body: err instanceof Error ? err.message : String(err) };
}

/** The warning a failed backend call leaves in the log. */
export function logBackendFailure(
  logger: Logger,
  endpointLabel: string,
  backendLabel: string,
  err: unknown,
): void {
  const e = toBackendError(err);
  logger.warn(
    `[BACKEND: ${endpointLabel} -> ${backendLabel}] ${e.message}${e.backendStatus ? ` (status ${e.backendStatus})` : ''}`,
  );
}
