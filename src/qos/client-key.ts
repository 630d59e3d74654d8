// Who "a client" is for client_max_rate: the `strategy` and `key` of the rate-limit pages.
//   ip      the client IP the router computed; with `key`, the first IP of that header
//   header  the value of the header named by `key`
//   param   the endpoint parameter named by `key` (`/api/{customer_id}/invoices`)
//   jwt     the claim named by `key` of the validated token (the Redis pages' example)
// A request without the identity (missing header, claim…) gets undefined: KrakenD refuses it.

import type { GwRequest } from '../types.js';
import type { Issues, Obj } from './util.js';

export const STRATEGIES = ['ip', 'header', 'param', 'jwt'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export type ClientKey = (req: GwRequest) => string | undefined;

const SEPARATOR = /[\s,]+/;

export function compileClientKey(cfg: Obj): ClientKey {
  const strategy = (typeof cfg.strategy === 'string' ? cfg.strategy : 'ip') as Strategy;
  const key = typeof cfg.key === 'string' ? cfg.key : '';
  switch (strategy) {
    case 'header': {
      const name = key.toLowerCase();
      return (req) => {
        const v = req.headers[name];
        return v === undefined || v === '' ? undefined : v;
      };
    }
    case 'param':
      return (req) => {
        const v = req.params[key];
        return v === undefined || v === '' ? undefined : v;
      };
    case 'jwt':
      return (req) => {
        const v = req.claims?.[key];
        if (v === undefined || v === null || v === '') return undefined;
        return typeof v === 'string' ? v : JSON.stringify(v);
      };
    default: {
      if (key === '') return (req) => req.clientIp;
      const name = key.toLowerCase();
      return (req) => {
        const v = req.headers[name];
        if (v === undefined) return req.clientIp;
        const first = v.trim().split(SEPARATOR, 1)[0];
        return first === '' ? req.clientIp : first;
      };
    }
  }
}

/** The request headers a client key reads (lower-case): `key` for the header and ip strategies. */
export function clientKeyHeaders(cfg: Obj): string[] {
  const strategy = typeof cfg.strategy === 'string' ? cfg.strategy : 'ip';
  const key = typeof cfg.key === 'string' ? cfg.key.toLowerCase() : '';
  return (strategy === 'header' || strategy === 'ip') && key !== '' ? [key] : [];
}

export function validateClientKey(cfg: Obj, v: Issues): void {
  v.string(cfg, 'strategy', STRATEGIES);
  v.string(cfg, 'key');
  const strategy = cfg.strategy ?? 'ip';
  if (
    (strategy === 'header' || strategy === 'param' || strategy === 'jwt') &&
    (typeof cfg.key !== 'string' || cfg.key === '')
  )
    v.add(
      'key',
      `the "${strategy}" strategy needs the name of the ${strategy === 'jwt' ? 'claim' : strategy} in "key"`,
    );
}
