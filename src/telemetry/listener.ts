// The small node:http servers of the telemetry endpoints (/metrics, /__stats): started by the
// aggregating thread only, closed at shutdown. A port that is taken is logged, not fatal: the
// gateway keeps serving traffic without its metrics endpoint.

import http from 'node:http';
import type { Logger } from 'pino';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `":8090"`, `"127.0.0.1:8090"`, `"[::1]:8090"` → host and port; undefined when malformed. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** A port in use is tried again every 250 ms for 30 s (a reload's replaced configuration frees it). */
const LISTEN_RETRY_MS = 250;
const LISTEN_RETRIES = 120;

export type TelemetryHandler = (
  path: string,
) => Promise<{ status: number; type: string; body: string } | undefined>;

export function startTelemetryServer(
  name: string,
  address: ListenAddress,
  handler: TelemetryHandler,
  logger: Logger,
): { close(): Promise<void> } {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed');
      return;
    }
    handler(path).then(
      (out) => {
        if (!out) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('404 page not found');
          return;
        }
        res.writeHead(out.status, {
          'content-type': out.type,
          'content-length': Buffer.byteLength(out.body),
        });
        res.end(req.method === 'HEAD' ? undefined : out.body);
      },
      (err: unknown) => {
        logger.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      },
    );
  });
  server.keepAliveTimeout = 5000;
  // After a configuration reload the replaced configuration holds the port until its requests are
  // done (a few seconds): a port in use is tried again for a while before it is given up.
  let retries = LISTEN_RETRIES;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const listen = () => server.listen(address.port, address.host === '' ? undefined : address.host);
  server.once('listening', () => logger.info(`${name} listening on ${address.host || '*'}:${address.port}`));
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE' && retries-- > 0 && !closed) {
      if (retries === LISTEN_RETRIES - 1)
        logger.warn(`${name}: ${address.host || '*'}:${address.port} is in use; trying again for 30 s`);
      retry = setTimeout(listen, LISTEN_RETRY_MS);
      retry.unref();
      return;
    }
    logger.error(`${name}: cannot listen on ${address.host || '*'}:${address.port}: ${err.message}`);
  });
  listen();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        clearTimeout(retry);
        server.closeAllConnections();
        server.close(() => resolve());
        if (!server.listening) resolve();
      }),
  };
}
