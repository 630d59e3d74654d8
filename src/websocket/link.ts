// One WebSocket connection from gw to a backend (the `ws` client), kept up as the KrakenD
// WebSockets page describes: dialled again after a loss, `backoff_strategy` apart, until
// `max_retries` (0 = forever); pinged every `ping_period` and dropped when no pong comes back
// within `pong_wait`. A multiplexed endpoint holds one link for all its clients, opened with the
// `{"msg":"KrakenD WS proxy starting"}` / `OK` handshake; a direct one holds one per client.

import type { Logger } from 'pino';
import WebSocket from 'ws';
import { backoffDelayMs } from './backoff.js';
import type { WebSocketSettings } from './config.js';

/** The opening message of a multiplexed channel; the backend must answer `OK`. */
export const HANDSHAKE = '{"msg":"KrakenD WS proxy starting"}';

export interface LinkOptions {
  /** Each dial picks one at random ("load balanced randomly"). */
  urls: readonly string[];
  protocols?: string[];
  headers?: Record<string, string>;
  /** Multiplexing: the handshake opens the channel. */
  handshake: boolean;
  settings: WebSocketSettings;
  logger: Logger;
  /** For log lines: `[SERVICE: Websocket][label]`. */
  label: string;
}

export interface LinkEvents {
  /** Ready to carry messages (after the handshake when there is one). */
  ready(): void;
  message(data: Buffer, binary: boolean): void;
  /**
   * The backend closed the connection with a close frame: `true` to retry anyway (multiplexing),
   * `false` to stop (direct communication passes the close on to its client).
   */
  closedByBackend(code: number, reason: string): boolean;
  /** The connection is lost and retries are over (or were not allowed). */
  gone(reason: string): void;
  /** Reconnecting: messages wait. */
  lost?(): void;
}

type State = 'connecting' | 'open' | 'waiting' | 'gone';

export class BackendLink {
  private ws: WebSocket | null = null;
  private state: State = 'connecting';
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private pingSentAt = 0;
  private lastHeard = 0;
  /** Whether a lost connection is dialled again (false for a direct link's first dial). */
  private retrying: boolean;

  constructor(
    private readonly opts: LinkOptions,
    private readonly events: LinkEvents,
    retryFirstDial: boolean,
  ) {
    this.retrying = retryFirstDial;
    this.dial();
  }

  get open(): boolean {
    return this.state === 'open';
  }

  get isGone(): boolean {
    return this.state === 'gone';
  }

  /** The subprotocol the backend selected. */
  get protocol(): string {
    return this.ws?.protocol ?? '';
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  send(data: Buffer | string, binary: boolean): boolean {
    if (this.state !== 'open' || this.ws === null) return false;
    this.ws.send(data, { binary });
    return true;
  }

  /** Stops reading the backend (its client is slow); `resume` starts again. */
  pause(): void {
    this.paused = true;
    this.ws?.pause();
  }

  resume(): void {
    this.paused = false;
    this.ws?.resume();
  }

  private paused = false;

  /** Closes for good, passing `code` on when it may be sent in a close frame. */
  close(code?: number, reason?: string): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.stopTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws === null) return;
    // A client that dropped (1006) drops its backend connection too; a paused one would never
    // read the backend's answering close frame.
    if (ws.readyState === WebSocket.CONNECTING || code === 1006 || this.paused) ws.terminate();
    else if (code !== undefined && sendableCode(code)) ws.close(code, reason);
    else ws.close();
  }

  private dial(): void {
    const { settings } = this.opts;
    const urls = this.opts.urls;
    const url = urls[urls.length === 1 ? 0 : Math.floor(Math.random() * urls.length)];
    const ws = new WebSocket(url, this.opts.protocols ?? [], {
      headers: this.opts.headers,
      maxPayload: settings.maxMessageBytes,
      handshakeTimeout: settings.writeWaitMs,
      perMessageDeflate: false,
    });
    this.ws = ws;
    this.state = 'connecting';
    let failure = '';
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.lastHeard = performance.now();
      this.startPings(ws);
      if (this.opts.handshake) ws.send(HANDSHAKE);
      else this.becomeReady();
    });
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (this.ws !== ws) return;
      this.lastHeard = performance.now();
      this.awaitingPong = false;
      if (this.state === 'connecting') {
        // The handshake: the first message must be `OK`.
        if (!binary && data.length === 2 && data.toString() === 'OK') this.becomeReady();
        else {
          failure = `the backend answered the handshake with ${JSON.stringify(data.toString('utf8', 0, 64))}, not "OK"`;
          ws.terminate();
        }
        return;
      }
      this.events.message(data, binary);
    });
    ws.on('pong', () => {
      this.lastHeard = performance.now();
      this.awaitingPong = false;
    });
    ws.on('error', (err) => {
      failure = `websocket.Dial ${url}: ${err.message}`;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopTimers();
      const wasOpen = this.state === 'open';
      if (wasOpen && code !== 1006 && !this.events.closedByBackend(code, reason.toString())) {
        this.state = 'gone';
        return;
      }
      if (wasOpen) {
        this.opts.logger.warn(
          `[SERVICE: Websocket][${this.opts.label}] Reading from the connection: websocket: close ${code}${failure ? `: ${failure}` : ''}`,
        );
        this.retrying = true;
        this.events.lost?.();
      }
      this.retry(failure || `connection closed (${code})`);
    });
  }

  private becomeReady(): void {
    this.state = 'open';
    this.retries = 0;
    this.retrying = true;
    this.events.ready();
  }

  private retry(why: string): void {
    const max = this.opts.settings.maxRetries;
    if (!this.retrying || (max > 0 && this.retries >= max)) {
      if (this.retrying)
        this.opts.logger.error(
          `[SERVICE: Websocket][${this.opts.label}] CRITICAL: Unable to reconnect to the backend: ${why}`,
        );
      this.state = 'gone';
      this.events.gone(why);
      return;
    }
    this.retries++;
    this.opts.logger.error(`[SERVICE: Websocket][${this.opts.label}] Unable to renew the connection: ${why}`);
    this.state = 'waiting';
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.state === 'waiting') this.dial();
      },
      backoffDelayMs(this.opts.settings.backoff, this.retries),
    );
  }

  /** One timer per link: a ping every `ping_period`; no pong (or any message) within `pong_wait`, dropped. */
  private startPings(ws: WebSocket): void {
    const { pingPeriodMs, pongWaitMs, direct, backendReadTimeoutMs } = this.opts.settings;
    this.awaitingPong = false;
    const tick = Math.min(pingPeriodMs, pongWaitMs);
    this.pingTimer = setInterval(() => {
      const now = performance.now();
      if (this.awaitingPong && now - this.pingSentAt >= pongWaitMs) {
        ws.terminate();
        return;
      }
      if (direct && now - this.lastHeard >= backendReadTimeoutMs) {
        ws.terminate();
        return;
      }
      if (!this.awaitingPong && now - this.pingSentAt >= pingPeriodMs) {
        this.awaitingPong = true;
        this.pingSentAt = now;
        ws.ping();
      }
    }, tick);
    this.pingTimer.unref();
  }

  private stopTimers(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.pingTimer = undefined;
    this.retryTimer = undefined;
  }
}

/** Codes a close frame may carry (RFC 6455 §7.4): not 1005, 1006, 1015 nor unassigned ones. */
export function sendableCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014 && code !== 1015) ||
    (code >= 3000 && code <= 4999)
  );
}
