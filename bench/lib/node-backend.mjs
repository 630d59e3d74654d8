// Fallback backend when nginx is not installed: the same documents from memory over node:http,
// in its own process.   node bench/lib/node-backend.mjs PORT
import http from 'node:http';
import { DOCUMENTS } from './docs.mjs';

const port = Number(process.argv[2]);
const bodies = new Map(Object.entries(DOCUMENTS).map(([name, text]) => [`/${name}`, Buffer.from(text)]));
const server = http.createServer((req, res) => {
  const body = bodies.get(req.url.split('?')[0]);
  if (req.url === '/__ready') {
    res.end('ok');
    return;
  }
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
