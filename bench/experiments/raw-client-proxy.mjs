// Experiment (not used by gw): the floor proxy's /noop with a minimal keep-alive HTTP/1.1 client
// written on node:net instead of undici, to measure what undici's JavaScript costs per request.
// Content-Length responses only, one thread, no timeouts, no redirects: a ceiling, not a client.
//
//   node bench/experiments/raw-client-proxy.mjs PORT BACKEND_PORT
import net from 'node:net';
import { RawConnection, rawRequest, serveRawProxy } from './raw-proxy-base.mjs';

const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const REQUEST = Buffer.from(rawRequest(backendPort), 'latin1');

class NetConnection extends RawConnection {
  constructor(pool) {
    super(pool);
    this.socket = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.closed());
  }

  write() {
    this.socket.write(REQUEST);
  }
}

serveRawProxy(port, (pool) => new NetConnection(pool));
