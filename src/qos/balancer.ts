// Round-robin over a backend's `host` list ("Load Balancing": equal weight per entry, so a host
// written twice gets twice the traffic). The core's HTTP stage asks the balancer for the origin of
// each call; the circuit breaker, when the backend has one and several hosts, picks the host
// itself (skipping hosts whose breaker is open) and pins it on the request it passes down.

import type { BackendConfig, BackendRequest } from '../types.js';

/** Set by a middleware on the BackendRequest it passes down: index into the host list. */
export const PINNED_HOST = Symbol('gw.pinnedHost');

type Pinned = BackendRequest & { [PINNED_HOST]?: number };

export class HostBalancer {
  private cursor = 0;
  constructor(readonly hosts: readonly string[]) {}

  /** Next index in round-robin order. */
  next(): number {
    const i = this.cursor;
    this.cursor = i + 1 === this.hosts.length ? 0 : i + 1;
    return i;
  }

  /**
   * Next index, in round-robin order, whose host `usable` accepts; -1 when none does.
   * Each host is asked at most once.
   */
  nextUsable(usable: (index: number) => boolean): number {
    for (let n = 0; n < this.hosts.length; n++) {
      const i = this.next();
      if (usable(i)) return i;
    }
    return -1;
  }

  /** The origin for this call: the pinned host when a middleware chose one, else the next. */
  origin(breq: BackendRequest): string {
    const pinned = (breq as Pinned)[PINNED_HOST];
    return this.hosts[pinned ?? this.next()];
  }
}

/** Pins `index` on a copy of the request (the same request object may be in flight several times). */
export function pinHost(breq: BackendRequest, index: number): BackendRequest {
  return { ...breq, [PINNED_HOST]: index } as Pinned;
}

const byBackend = new WeakMap<BackendConfig, HostBalancer>();

/** The core calls this once per backend at compile time, before the backend middlewares. */
export function createHostBalancer(backend: BackendConfig, hosts: readonly string[]): HostBalancer {
  const balancer = new HostBalancer(hosts);
  byBackend.set(backend, balancer);
  return balancer;
}

/** The balancer of a backend being compiled (undefined when the core did not make one). */
export function balancerOf(backend: BackendConfig | undefined): HostBalancer | undefined {
  return backend ? byBackend.get(backend) : undefined;
}
