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
  server.on('error', (err) =>
    logger.error(`${name}: cannot listen on ${address.host || '*'}:${address.port}: ${err.message}`),
  );
  server.listen(address.port, address.host === '' ? undefined : address.host, () =>
    logger.info(`${name} listening on ${address.host || '*'}:${address.port}`),
  );
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        if (!server.listening) resolve();
      }),
  };
}
