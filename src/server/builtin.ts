// Built-in endpoints: /__health, /__debug/ (debug_endpoint) and /__echo/ (echo_endpoint).
import type { Logger } from 'pino';
import { canonicalHeader } from '../proxy/backend-request.js';
import type { EndpointStage, GwRequest, GwResponse } from '../types.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The health endpoint (lura router/gin/engine.go healthEndpoint): `agents` holds each async agent's
 * last report of being alive (src/async/agents.ts), `now` the server's time.
 */
export function healthHandler(agents: () => Record<string, string>): EndpointStage {
  return async () => ({
    status: 200,
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ agents: agents(), now: new Date().toISOString(), status: 'ok' }),
  });
}

const PONG: GwResponse = { status: 200, headers: { 'content-type': JSON_TYPE }, body: '{"message":"pong"}' };

/** Logs the request it receives and answers {"message":"pong"}, as KrakenD's debug endpoint. */
export function debugHandler(logger: Logger): EndpointStage {
  return async (req) => {
    logger.debug(
      {
        method: req.method,
        url: req.query ? `${req.path}?${req.query}` : req.path,
        query: req.query,
        headers: req.headers,
        body: req.body ? req.body.toString('utf8') : '',
      },
      '[ENDPOINT: /__debug/*]',
    );
    return PONG;
  };
}

function parseQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    out[k] ??= [];
    out[k].push(v);
  }
  return out;
}

/** Echoes the request as JSON, with the keys KrakenD's echo endpoint uses. */
export const echoHandler: EndpointStage = async (req: GwRequest) => {
  const headers: Record<string, string[]> = {};
  for (const k in req.headers) headers[canonicalHeader(k)] = req.headers[k].split(/,\s*/);
  const uri = req.query ? `${req.path}?${req.query}` : req.path;
  return {
    status: 200,
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({
      req_uri: uri,
      req_uri_details: { user: '', host: '', path: req.path, query: req.query, fragment: '' },
      req_method: req.method,
      req_querystring: parseQuery(req.query),
      req_body: req.body ? req.body.toString('utf8') : '',
      req_headers: headers,
    }),
  };
};
