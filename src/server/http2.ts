// HTTP/2 for the node:http front (front-node.ts), through node:http2: uWebSockets.js has no
// HTTP/2. As Go's net/http serves KrakenD: on the TLS port, ALPN offers h2 and http/1.1; on a
// plain port with `use_h2c`, a connection that opens with the HTTP/2 preface is h2c (prior
// knowledge, as Go's h2c handler takes it), any other is HTTP/1.1. An `Upgrade: h2c` request is
// answered in HTTP/1.1 (node:http2 does not upgrade; a server may ignore Upgrade).

import type http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { FrontOptions } from './front.js';

/** The first bytes of every HTTP/2 connection (RFC 9113, 3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Connection-specific headers HTTP/2 forbids (RFC 9113, 8.2.2): dropped from its answers. */
export const H2_CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;
type SessionListener = (session: http2.Http2Session) => void;

/**
 * HTTP/2 settings from the front's limits: the header block as large as an HTTP/1.1 head may be,
 * and 250 concurrent streams per connection, Go's HTTP/2 server default (node:http2 has no bound).
 */
function h2Options(opts: FrontOptions): http2.ServerOptions {
  return { settings: { maxHeaderListSize: opts.maxHeaderBytes, maxConcurrentStreams: 250 } };
}

/**
 * The TLS listener: h2 and http/1.1 by ALPN, both answered by `onRequest`. node:http2 parses
 * HTTP/1.1 with node:http's parser and reads its limits from the server's own properties: set
 * from `http1Options`, as the HTTP/1.1-only listener takes them.
 */
export function createHttp2SecureServer(
  opts: FrontOptions,
  http1Options: http.ServerOptions,
  onRequest: RequestListener,
  onSession: SessionListener,
): net.Server {
  const server = http2.createSecureServer(
    { ...h2Options(opts), ...(opts.tls?.node ?? {}), allowHTTP1: true } as http2.SecureServerOptions,
    onRequest as never,
  );
  Object.assign(server, {
    maxHeaderSize: http1Options.maxHeaderSize,
    requestTimeout: http1Options.requestTimeout,
    headersTimeout: http1Options.headersTimeout,
    keepAliveTimeout: http1Options.keepAliveTimeout,
  });
  server.on('session', onSession);
  return server;
}

/**
 * The plain listener with h2c: a net.Server that reads each connection's first bytes and hands it
 * to the HTTP/2 server when they are the preface, to `http1` otherwise (the bytes read are put back).
 */
export function createH2cServer(
  http1: http.Server,
  opts: FrontOptions,
  onRequest: RequestListener,
  onSession: SessionListener,
): net.Server {
  const h2 = http2.createServer(h2Options(opts), onRequest as never);
  h2.on('session', onSession);
  // A connection that sends nothing is closed as an HTTP/1.1 one that sends no head would be.
  const sniffTimeoutMs = opts.readHeaderTimeoutMs || Math.min(opts.readTimeoutMs || 60000, 60000);
  return net.createServer((socket) => {
    socket.setTimeout(sniffTimeoutMs, () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const sniff = () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return;
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const h2Preface = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      // A prefix of the preface: wait for the rest before deciding.
      if (h2Preface && n < PREFACE.length) return;
      socket.off('readable', sniff);
      socket.setTimeout(0);
      socket.unshift(head);
      (h2Preface ? h2 : http1).emit('connection', socket);
    };
    socket.on('readable', sniff);
    socket.on('error', () => socket.destroy());
  });
}
