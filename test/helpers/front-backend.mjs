// The backend both front suites (front-framing, front-real-clients) put behind gw: plain-text
// answers named after their path, a slow one, the length of a POST body, two JSON halves for a
// merge. Paths it does not know are 404.
import { startBackend } from './gateway.mjs';

export function startFrontBackend() {
  return startBackend(async (req, res, body) => {
    const path = req.url.split('?')[0];
    const text = (s) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(s);
    };
    if (path === '/noop') return text('noop');
    if (path === '/slow') {
      await new Promise((r) => setTimeout(r, 30));
      return text('slow');
    }
    if (path === '/post') return text(`length=${body.length}`);
    if (path === '/smuggled') return text('smuggled');
    if (path.startsWith('/public/')) return text('file');
    if (path === '/a' || path === '/b') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ [path.slice(1)]: 1 }));
    }
    res.writeHead(404);
    res.end();
  });
}

/** A no-op endpoint of `host`, with extra endpoint settings. */
export function noopEndpoint(host, endpoint, urlPattern, extra = {}) {
  return {
    endpoint,
    output_encoding: 'no-op',
    ...extra,
    backend: [{ host, url_pattern: urlPattern, encoding: 'no-op' }],
  };
}
