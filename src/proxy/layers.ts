// How a layer's middlewares join the pipeline. The pipeline is written in continuation style (a
// handler answers through a Reply, a proxy through a ProxyDone, a backend call through a sink): no
// promise, no closure per request. A feature's middleware is a promise wrapper (Lura's
// `Middleware(next) → Proxy`); the pipeline runs it through an adapter here, and takes its cheaper
// forms when it has them: a guard (admits or refuses, synchronously) in place of an endpoint
// middleware, a meter (told how the layer ended) in place of a telemetry one. A layer with no
// middleware costs nothing; one with only guards and meters costs their calls.

import { STATUS_TEXT } from '../server/status-text.js';
import type {
  BodyStream,
  EndpointMiddleware,
  EndpointStage,
  GwResponse,
  Handler,
  Meter,
  Outcome,
  Reply,
  ResponseHeaders,
} from '../types.js';
import { gatherBody } from './body-stream.js';
import { bodyBytes } from './util.js';

export function plainAnswer(status: number, text: string): GwResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

export const INTERNAL_ERROR: Readonly<GwResponse> = Object.freeze(
  plainAnswer(500, `500 ${STATUS_TEXT[500]}`),
);

/**
 * A Reply that hands the answer to a promise: where a promise middleware waits for the rest of the
 * pipeline. An answer passed as header lines is read back into a header map.
 */
class AwaitedReply implements Reply {
  constructor(private readonly resolve: (res: GwResponse) => void) {}

  answer(res: GwResponse): void {
    this.resolve(res);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    const headers: ResponseHeaders = {};
    if (passed !== null) readLines(passed, headers);
    readLines(added, headers);
    this.resolve({ status, headers, body });
  }

  /** The middleware reads the whole answer: the body is gathered first. */
  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void {
    gatherBody(body, (whole, err) => {
      if (whole !== null) this.pass(status, passed, added, whole);
      else this.resolve(plainAnswer(500, `500 ${STATUS_TEXT[500]}: ${err?.message ?? ''}`));
    });
  }
}

/** CRLF-prefixed header lines into `into`, names lower-cased, repeated names listed. */
function readLines(lines: Buffer, into: ResponseHeaders): void {
  for (const line of lines.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = into[name];
    if (prev === undefined) into[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else into[name] = [prev, value];
  }
}

/** A handler as a promise stage: for a promise middleware that wraps it. */
export function stageOf(handler: Handler): EndpointStage {
  return (req) =>
    new Promise<GwResponse>((resolve) => {
      try {
        handler(req, new AwaitedReply(resolve));
      } catch {
        resolve(INTERNAL_ERROR);
      }
    });
}

/** A promise stage as a handler: its answer (or a 500 when it fails) goes to the reply. */
export function handlerOf(stage: EndpointStage): Handler {
  return (req, reply) => {
    let pending: Promise<GwResponse>;
    try {
      pending = stage(req);
    } catch {
      reply.answer(INTERNAL_ERROR);
      return;
    }
    pending.then(
      (res) => reply.answer(res),
      () => reply.answer(INTERNAL_ERROR),
    );
  };
}

/**
 * Wraps `inner` with endpoint middlewares, outermost first. A middleware with a guard runs as its
 * check when the guard can decide (always, for a rate limit); otherwise, and for a middleware
 * without a guard, the middleware itself runs around the rest of the chain.
 */
export function chainEndpoint(middlewares: readonly EndpointMiddleware[], inner: Handler): Handler {
  let handler = inner;
  for (let i = middlewares.length - 1; i >= 0; i--) {
    const mw = middlewares[i];
    const guard = mw.guard;
    const next = handler;
    const wrapped =
      guard === undefined || guard.ready !== undefined ? handlerOf(mw(stageOf(next))) : undefined;
    if (guard === undefined) handler = wrapped!;
    else if (guard.ready === undefined)
      handler = (req, reply) => {
        const refused = guard.check(req);
        if (refused === undefined) next(req, reply);
        else reply.answer(refused);
      };
    else {
      const ready = guard.ready;
      handler = (req, reply) => {
        if (!ready.call(guard, req)) {
          wrapped!(req, reply);
          return;
        }
        const refused = guard.check(req);
        if (refused === undefined) next(req, reply);
        else reply.answer(refused);
      };
    }
  }
  return handler;
}

/** The meters of `instruments` when each has one; undefined when one does not (it wraps then). */
export function metersOf(instruments: ReadonlyArray<{ meter?: Meter }>): Meter[] | undefined {
  const meters: Meter[] = [];
  for (const mw of instruments) {
    if (mw.meter === undefined) return undefined;
    meters.push(mw.meter);
  }
  return meters;
}

/** One scratch outcome per thread: filled, told to the meters, forgotten, synchronously. */
export const outcome: Outcome = {
  status: 0,
  bytes: 0,
  reach: 'called',
  backendOk: false,
  backendStatus: 0,
  elapsedUs: 0,
  proxyComplete: false,
  proxyError: false,
};

/** The endpoint layer's meters, told of the answer as it is written. */
export class MeteredReply implements Reply {
  constructor(
    private readonly reply: Reply,
    private readonly meters: readonly Meter[],
    private readonly started: number,
    private readonly reach: Outcome['reach'],
  ) {}

  answer(res: GwResponse): void {
    this.record(res.status, bodyBytes(res.body));
    this.reply.answer(res);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    this.record(status, body.length);
    this.reply.pass(status, passed, added, body);
  }

  /** Recorded when the head goes out, with the announced size (0 when unknown). */
  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void {
    this.record(status, body.length > 0 ? body.length : 0);
    this.reply.passStream(status, passed, added, body);
  }

  private record(status: number, bytes: number): void {
    const o = outcome;
    o.status = status;
    o.bytes = bytes;
    o.reach = this.reach;
    o.elapsedUs = (performance.now() - this.started) * 1000;
    for (const meter of this.meters) meter.record(o);
  }
}

/** Wraps `inner` so that the endpoint layer's meters hear every answer. */
export function meterEndpoint(meters: readonly Meter[], inner: Handler): Handler {
  if (meters.length === 0) return inner;
  return (req, reply) => inner(req, new MeteredReply(reply, meters, performance.now(), 'called'));
}
