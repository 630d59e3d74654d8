// What a Reply does with a BodyStream (types.ts) when it cannot pass it on as it arrives: gather
// it whole. A promise middleware around the pipeline needs the whole answer; a front answering a
// HEAD request, or one that closes the connection after the answer, takes the buffered path.

import type { BodySink, BodyStream } from '../types.js';

class Gatherer implements BodySink {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly done: (body: Buffer | null, err: Error | null) => void) {}

  data(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
    return true;
  }

  end(): void {
    this.done(Buffer.concat(this.chunks, this.size), null);
  }

  fail(err: Error): void {
    this.done(null, err);
  }
}

/** Reads `stream` whole; `done` hears the body, or the error that cut it. */
export function gatherBody(stream: BodyStream, done: (body: Buffer | null, err: Error | null) => void): void {
  stream.pipe(new Gatherer(done));
}
