// Backend answers that are awkward for a gateway, shared by the no-op and merge pipeline tests
// (core-noop-pipeline, core-merge-pipeline): a gzip body the gateway asked for, redirects on the
// same host and to another, an answer slower than the endpoint's timeout.
import zlib from 'node:zlib';

/** The body /gzip answers, compressed. */
export const ZIPPED_JSON = '{"zipped":true}';

/** Answers `path` when it is one of those; false otherwise (the caller answers). */
export function awkwardAnswer(path, res, { redirectTo, elsewhere }) {
  switch (path) {
    case '/gzip': {
      const body = zlib.gzipSync(ZIPPED_JSON);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
        'Content-Length': body.length,
      });
      res.end(body);
      return true;
    }
    case '/moved':
      res.writeHead(302, { Location: redirectTo });
      res.end();
      return true;
    case '/away':
      res.writeHead(307, { Location: elsewhere });
      res.end();
      return true;
    case '/slow':
      setTimeout(() => res.end('{"late":true}'), 1000).unref();
      return true;
  }
  return false;
}
