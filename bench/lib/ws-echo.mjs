// A `ws` echo server for bench/websocket.mjs: `node ws-echo.mjs PORT plain|mux`. `plain` echoes
// each message; `mux` is a multiplexing backend (answers the opening message with OK, echoes
// each envelope to its sender's uuid). Prints "ready" once listening.
import { WebSocketServer } from 'ws';

const [port, mode] = process.argv.slice(2);
const wss = new WebSocketServer({
  port: Number(port),
  host: '127.0.0.1',
  perMessageDeflate: false,
  maxPayload: 1 << 24,
});
wss.on('connection', (ws) => {
  let opened = mode !== 'mux';
  ws.on('message', (data, binary) => {
    if (!opened) {
      opened = true;
      ws.send('OK');
      return;
    }
    if (mode !== 'mux') {
      ws.send(data, { binary });
      return;
    }
    const env = JSON.parse(data.toString());
    if (env.body !== undefined) ws.send(`{"session":{"uuid":"${env.session.uuid}"},"body":"${env.body}"}`);
  });
});
wss.on('listening', () => console.log('ready'));
