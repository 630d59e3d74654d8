// Experiment (not used by gw): raw-client-proxy.mjs with its sockets on Node's tcp_wrap handles
// (process.binding) instead of node:net, to measure what net.Socket's stream layer costs per
// request. Content-Length responses only, one thread, no timeouts: a ceiling, not a client.
//
//   node bench/experiments/raw-tcpwrap-proxy.mjs PORT BACKEND_PORT
import { RawConnection, rawRequest, serveRawProxy } from './raw-proxy-base.mjs';

const { TCP, TCPConnectWrap, constants: TCPConstants } = process.binding('tcp_wrap');
const { WriteWrap, kReadBytesOrError, kArrayBufferOffset, streamBaseState } = process.binding('stream_wrap');
const port = Number(process.argv[2]);
const backendPort = Number(process.argv[3]);
const REQUEST = rawRequest(backendPort);

function afterWrite() {}

/** A read on a handle: its bytes to the connection, an end or error closes it. */
function onread(arrayBuffer) {
  const nread = streamBaseState[kReadBytesOrError];
  const connection = this.owner;
  if (nread > 0) connection.onData(Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset], nread));
  else if (nread < 0) connection.close();
}

class HandleConnection extends RawConnection {
  constructor(pool) {
    super(pool);
    const handle = new TCP(TCPConstants.SOCKET);
    this.handle = handle;
    this.connected = false;
    this.pending = false;
    handle.owner = this;
    handle.onread = onread;
    const req = new TCPConnectWrap();
    req.oncomplete = (status) => {
      if (status < 0) return this.close();
      handle.setNoDelay(true);
      handle.readStart();
      this.connected = true;
      if (this.pending) this.write();
    };
    req.address = '127.0.0.1';
    req.port = backendPort;
    if (handle.connect(req, '127.0.0.1', backendPort)) this.close();
  }

  close() {
    if (this.handle === null) return;
    this.handle.close();
    this.handle = null;
    this.closed();
  }

  write() {
    if (this.handle === null) return;
    if (!this.connected) {
      this.pending = true;
      return;
    }
    this.pending = false;
    const req = new WriteWrap();
    req.handle = this.handle;
    req.oncomplete = afterWrite;
    req.async = false;
    if (this.handle.writeLatin1String(req, REQUEST)) this.close();
  }
}

serveRawProxy(port, (pool) => new HandleConnection(pool));
