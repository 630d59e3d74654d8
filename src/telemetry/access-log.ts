// The access log, compiled once per instance: `router.disable_access_log` turns it off,
// `router.logger_skip_paths` drops exact paths (health checks…). As in KrakenD, the access log
// is not an application log: the level does not filter it and it always goes to stdout.
// - With `telemetry/logging`: KrakenD CE's line (gin's format), written straight to the log
//   destination: `[GIN] 2006/01/02 - 15:04:05 | 200 |     412.53µs |       127.0.0.1 | GET      "/foo"`.
// - Without it: a pino JSON line at INFO (gw's native log), `{"level":30,…,"msg":"[GW] GET /foo 200 0.413ms 127.0.0.1"}`.

import type { Logger } from 'pino';
import type { GwRequest, ServiceConfig } from '../types.js';
import { ginLineFormatter, ginLineWriter } from './log-format.js';
import { loggerDestination } from './logger.js';
import { loggingConfig } from './logging.js';
import { StdoutLines } from './stdout-lines.js';

/** Records one answered request; `startedMs` is the `performance.now()` of its arrival. */
export type AccessLog = (req: GwRequest, status: number, startedMs: number) => void;

interface RouterLogOptions {
  disable_access_log?: boolean;
  logger_skip_paths?: string[];
}

/** The path as the log shows it: with its query string. */
function pathOf(req: GwRequest): string {
  return req.query ? `${req.path}?${req.query}` : req.path;
}

export function compileAccessLog(service: ServiceConfig, logger: Logger): AccessLog | undefined {
  const router = (service.extra_config?.router ?? {}) as RouterLogOptions;
  if (router.disable_access_log === true) return undefined;
  const skip = new Set(Array.isArray(router.logger_skip_paths) ? router.logger_skip_paths : []);
  const destination = loggingConfig(service) ? loggerDestination(logger) : undefined;
  if (destination instanceof StdoutLines) {
    const write = ginLineWriter();
    return (req, status, startedMs) => {
      if (skip.size > 0 && skip.has(req.path)) return;
      const endedMs = performance.now();
      write(destination, status, (endedMs - startedMs) * 1e6, endedMs, req.clientIp, req.method, pathOf(req));
    };
  }
  if (destination) {
    const line = ginLineFormatter();
    return (req, status, startedMs) => {
      if (skip.size > 0 && skip.has(req.path)) return;
      const latencyNs = (performance.now() - startedMs) * 1e6;
      destination.write(line(status, latencyNs, req.clientIp, req.method, pathOf(req)));
    };
  }
  return (req, status, startedMs) => {
    if (skip.size > 0 && skip.has(req.path)) return;
    logger.info(
      `[GW] ${req.method} ${pathOf(req)} ${status} ${(performance.now() - startedMs).toFixed(3)}ms ${req.clientIp}`,
    );
  };
}
