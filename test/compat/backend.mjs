// A node:http stand-in for the Go backend of krakend-ce's integration tests (tests/integration.go):
// the echo handler (`path`, `query`, `headers`, `foo: 42`, two Set-Cookie headers, X-Forwarded-For
// checked to be loopback then hidden, `?dump_body=1` returns the body), collections, delayed
// answers, redirects, plus a few paths for the status/encoding cases of this suite. It answers as
// Go's net/http would: canonical header names with arrays of values, no Host header, query as
// map of arrays, `404 page not found\n` for unknown paths.
import http from 'node:http';
import { gzipSync } from 'node:zlib';

/** Go's textproto.CanonicalMIMEHeaderKey. */
function canonical(name) {
  if (/[^A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase());
}

// Framing and connection management are transport, not forwarding: Go's client sends a chunked
// body without Connection, undici a sized body with `connection: keep-alive`. Neither is part of
// what KrakenD's forwarding rules decide, so the echo leaves them out (Go drops Host the same way).
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
]);

function goHeaders(req) {
  const out = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (TRANSPORT_HEADERS.has(raw[i].toLowerCase())) continue;
    const k = canonical(raw[i]);
    if (out[k] === undefined) out[k] = [];
    out[k].push(raw[i + 1]);
  }
  return out;
}

function goDecode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function goQuery(rawQuery) {
  const out = {};
  if (!rawQuery) return out;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = goDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (out[k] === undefined) out[k] = [];
    out[k].push(goDecode(eq < 0 ? '' : pair.slice(eq + 1)));
  }
  return out;
}

function goPath(rawPath) {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}

function goDuration(s) {
  const m = /^(\d+)(ms|s)$/.exec(s ?? '');
  if (!m) return 0;
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function httpError(res, body, code) {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${body}\n`);
}

function isLoopback(ip) {
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip) || /^::ffff:127\./.test(ip);
}

function echo(req, res, body, rawPath, rawQuery) {
  const query = goQuery(rawQuery);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Set-Cookie', ['test1=test1', 'test2=test2']);
  if (query.dump_body?.[0] === '1') {
    res.end(body);
    return;
  }
  const headers = goHeaders(req);
  delete headers['X-Forwarded-For'];
  res.end(`${JSON.stringify({ foo: 42, headers, path: goPath(rawPath), query })}\n`);
}

const XML = '<?xml version="1.0" encoding="UTF-8"?><user><name>gopher</name><id>7</id></user>';
const NESTED = {
  data: { id: 1, name: 'gw', secret: 's3cr3t', meta: { a: 1, b: 2 } },
  status: 'ok',
  page: { n: 1, of: 3 },
};

function route(req, res, body) {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const seg = rawPath.split('/');

  // KrakenD's backend rejects requests whose X-Forwarded-For is not the (loopback) client.
  if (
    seg[1] === 'param_forwarding' ||
    seg[1] === 'collection' ||
    seg[1] === 'delayed' ||
    seg[1] === 'redirect'
  ) {
    const xff = req.headers['x-forwarded-for'];
    if (typeof xff !== 'string' || !isLoopback(xff)) return httpError(res, 'invalid X-Forwarded-For', 400);
  }
  switch (seg[1]) {
    case 'param_forwarding':
      return echo(req, res, body, rawPath, rawQuery);
    case 'collection': {
      res.setHeader('Content-Type', 'application/json');
      const items = [0, 1, 2].map((i) => ({ i, path: goPath(rawPath) }));
      return res.end(`${JSON.stringify(items)}\n`);
    }
    case 'delayed': {
      const timer = setTimeout(() => echo(req, res, body, rawPath, rawQuery), goDuration(seg[2]));
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case 'redirect': {
      if (seg[2] === 'cross') {
        // Same server under another host name: Go's client drops credentials on such a hop.
        const location = `http://localhost:${req.socket.localPort}/param_forwarding/redirected?from=cross`;
        res.writeHead(302, { Location: location, 'Content-Type': 'text/html; charset=utf-8' });
        return res.end();
      }
      const code = Number(seg[2]) || 302;
      res.writeHead(code, {
        Location: `/param_forwarding/redirected?from=${code}`,
        'Content-Type': 'text/html; charset=utf-8',
      });
      return res.end(`<a href="/param_forwarding/redirected?from=${code}">Redirect</a>.\n\n`);
    }
    case 'status': {
      const code = Number(seg[2]) || 500;
      return httpError(res, `${code} status`, code);
    }
    case 'nested':
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify(NESTED));
    case 'created':
      res.writeHead(201, { 'Content-Type': 'application/json' });
      return res.end('{"created":true}');
    case 'no-content':
      res.writeHead(204);
      return res.end();
    case 'empty':
      res.setHeader('Content-Type', 'application/json');
      return res.end('{}');
    case 'invalid-json':
      res.setHeader('Content-Type', 'application/json');
      return res.end('{"truncated": ');
    case 'numbers':
      // Keys in Go's (sorted) order; lura decodes with UseNumber, so the literals come back as sent.
      res.setHeader('Content-Type', 'application/json');
      return res.end('{"big":12345678901234567890,"e":1e3,"f":1.0,"neg":-0.0}');
    case 'method':
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify({ method: req.method }));
    case 'big': {
      // ~1 MB of JSON: bodies are buffered and passed whole.
      res.setHeader('Content-Type', 'application/json');
      const items = Array.from({ length: 20000 }, (_, i) => ({ i, name: `item-${i}`, tags: ['a', 'b'] }));
      return res.end(JSON.stringify({ count: items.length, items }));
    }
    case 'education':
      // The input of the docs' flatmap example (Array manipulation, "Moving around data in arrays").
      res.setHeader('Content-Type', 'application/json');
      return res.end(
        JSON.stringify({
          kindergarten: [{ name: 'TEST Kinder' }, { name: "Lil' Elephants" }, { name: 'Bright Rainbows' }],
          schools: [{ title: 'Brookside Elementary' }, { title: 'Oak Tree School' }],
        }),
      );
    case 'empty-body':
      res.setHeader('Content-Type', 'application/json');
      return res.end();
    case 'string':
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      return res.end('hello, world');
    case 'array':
      res.setHeader('Content-Type', 'application/json');
      return res.end('[1,2,3]');
    case 'number':
      res.setHeader('Content-Type', 'application/json');
      return res.end('42');
    case 'gzip': {
      const gz = gzipSync(Buffer.from(JSON.stringify({ compressed: true, foo: 42 })));
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
        'Content-Length': gz.length,
      });
      return res.end(gz);
    }
    case 'xml':
      res.setHeader('Content-Type', 'application/xml; charset=utf-8');
      return res.end(XML);
    default:
      return httpError(res, '404 page not found', 404);
  }
}

/** Starts the backend on 127.0.0.1 (random port). Resolves { port, url, requests, close }. */
export async function startCompatBackend() {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      route(req, res, body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
