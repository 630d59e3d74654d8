// Log lines to stdout from the thread that made them, written by that thread.
// The access log writes its lines here as bytes (log-format.ts ginLineWriter), so a chunk goes
// out with one write() and no string is built, flattened or encoded on the way; sonic-boom would
// take strings and write them from libuv's thread pool. Measured together, the two halve the
// access log's CPU cost; the thread-pool hop alone measured nothing.
// A pipe is reopened (through /proc/self/fd/1: a description of our own) in non-blocking mode and
// written synchronously, in chunks of whole lines of at most PIPE_BUF bytes: such a write is all
// or nothing and never interleaved with another writer's, so the lines of several worker threads
// stay whole (a single line longer than that goes alone, and may be interleaved). A file (or /dev/null) is
// written the same way in larger chunks. When the reader is slow (EAGAIN), chunks wait in order in
// a backlog retried on a timer: the loop never blocks on stdout and no line is dropped.
import { closeSync, constants, fstatSync, openSync, realpathSync, writeSync } from 'node:fs';
import type { LineChunk } from './log-format.js';

/** Linux's PIPE_BUF: a pipe write of at most this many bytes is atomic. */
const PIPE_ATOMIC_BYTES = 4096;
/**
 * A file takes larger chunks: Linux holds the inode lock through one write to a regular file, so
 * the workers' writes do not interleave there either.
 */
const FILE_CHUNK_BYTES = 65536;
/** How long a full pipe is left before the backlog is tried again. */
const RETRY_MS = 10;
/** How long `flushSync` (a thread's exit) waits for a stalled reader before giving up. */
const EXIT_WAIT_MS = 2000;

export class StdoutLines implements LineChunk {
  /** Whole lines waiting to be written, `used` bytes of them. */
  chunk: Buffer;
  used = 0;
  private readonly backlog: Buffer[] = [];
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly ownsFd: boolean,
    /** A chunk is written once it would grow past this many bytes. */
    private readonly chunkBytes: number,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes + 1024);
  }

  /**
   * A writer for this process's stdout when it is a pipe, a file or /dev/null; undefined for a
   * terminal or a socket (left to sonic-boom: a terminal is for reading, not for load).
   */
  static open(): StdoutLines | undefined {
    try {
      const stat = fstatSync(1);
      if (stat.isFIFO()) {
        const fd = openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK);
        return new StdoutLines(fd, true, PIPE_ATOMIC_BYTES);
      }
      if (stat.isFile() || (stat.isCharacterDevice() && realpathSync('/proc/self/fd/1') === '/dev/null'))
        return new StdoutLines(1, false, FILE_CHUNK_BYTES);
    } catch {
      // no /proc, or stdout closed: sonic-boom's way
    }
    return undefined;
  }

  write(line: string): boolean {
    this.room(line.length * 3);
    this.used += this.chunk.write(line, this.used);
    return true;
  }

  room(bytes: number): void {
    if (this.used > 0 && this.used + bytes > this.chunkBytes) this.drain();
    if (bytes > this.chunk.length) this.chunk = Buffer.allocUnsafe(bytes);
  }

  /** Writes the lines gathered so far. */
  drain(): void {
    if (this.used === 0) return;
    const lines = this.chunk.subarray(0, this.used);
    this.used = 0;
    // The chunk is filled again at once: what cannot be written now waits as a copy.
    if (this.closed) return;
    if (this.backlog.length === 0) {
      const written = this.tryWrite(lines);
      if (written === undefined) return;
      this.backlog.push(Buffer.from(lines.subarray(written)));
    } else {
      this.backlog.push(Buffer.from(lines));
    }
    this.retryLater();
  }

  flush(cb?: (err?: Error) => void): void {
    this.drain();
    this.writeBacklog();
    cb?.();
  }

  /** Everything out before the thread exits: waits (a bounded time) for a stalled reader. */
  flushSync(): void {
    this.drain();
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + EXIT_WAIT_MS;
    while (!this.writeBacklog() && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 1);
  }

  end(): void {
    this.flushSync();
    if (this.retry) clearTimeout(this.retry);
    this.closed = true;
    if (this.ownsFd) closeSync(this.fd);
  }

  private retryLater(): void {
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      if (!this.writeBacklog()) this.retryLater();
    }, RETRY_MS).unref();
  }

  /** Bytes written, 0 when the pipe is full; undefined when all of it is gone (or cannot go). */
  private tryWrite(data: Buffer): number | undefined {
    try {
      const written = writeSync(this.fd, data);
      return written === data.length ? undefined : written;
    } catch (err) {
      // A closed reader (EPIPE) or a broken fd: the lines have nowhere to go.
      return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? 0 : undefined;
    }
  }

  /** Writes backlogged chunks in order; true when none is left. */
  private writeBacklog(): boolean {
    while (this.backlog.length > 0) {
      const chunk = this.backlog[0];
      if (chunk.length === 0) {
        this.backlog.shift();
        continue;
      }
      const written = this.tryWrite(chunk);
      if (written === undefined) this.backlog.shift();
      else if (written === 0) return false;
      else this.backlog[0] = chunk.subarray(written);
    }
    return true;
  }
}
