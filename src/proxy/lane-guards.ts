// What both lanes (passthrough-lane.ts, the merge lane in endpoint.ts) share before a backend is
// called: the request's header map, read only when someone needs it, and the endpoint
// middlewares' admission checks (LaneGuard: rate limits, JWT validation of remembered tokens).

import type { GwRequest, GwResponse, HeaderMap, HeaderView, LaneGuard } from '../types.js';

// The request's headers as the front's header map holds them (a repeated name joined with ", "):
// one module-level collector and a scratch slot, as a lane reads them synchronously.
export const NO_HEADER_MAP: HeaderMap = Object.freeze({}) as HeaderMap;
let collecting: HeaderMap = NO_HEADER_MAP;
function collectHeader(name: string, value: string): void {
  const prev = collecting[name];
  collecting[name] = prev === undefined ? value : `${prev}, ${value}`;
}

export function headerMapOf(view: HeaderView): HeaderMap {
  const map: HeaderMap = {};
  collecting = map;
  view.forEach(collectHeader);
  collecting = NO_HEADER_MAP;
  return map;
}

/** The request as a guard or the request builder reads it (a GET without body). */
export function requestOf(
  params: Record<string, string>,
  query: string,
  headers: HeaderMap,
  clientIp: string,
): GwRequest {
  return { method: 'GET', path: '', query, headers, params, body: null, clientIp };
}

/** A guard could not decide at once: the request goes to the endpoint's stage, uncounted. */
export const NOT_READY = Symbol('not ready');

/** The guards of one endpoint, outermost first. */
export class LaneGuards {
  readonly readsHeaders: boolean;
  /** The guards that may not decide at once, and then hand the request to the endpoint's stage. */
  private readonly deferring: LaneGuard[];

  constructor(private readonly guards: LaneGuard[]) {
    this.readsHeaders = guards.some((g) => g.readsHeaders);
    this.deferring = guards.filter((g) => g.ready !== undefined);
  }

  /** NOT_READY, the first refusal, or undefined when every guard admits the request. */
  verdict(req: GwRequest): GwResponse | undefined | typeof NOT_READY {
    // Before any check: a rate limit must not count a request the header-map path then counts.
    for (const guard of this.deferring) if (!guard.ready!(req)) return NOT_READY;
    for (const guard of this.guards) {
      const refused = guard.check(req);
      if (refused !== undefined) return refused;
    }
    return undefined;
  }
}
