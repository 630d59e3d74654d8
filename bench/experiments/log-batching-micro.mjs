// Ways to batch access-log lines before a write, per line, on /dev/null:
//   join   strings joined until 8 KiB, then written (what BatchedDestination in src/telemetry/logger.ts does)
//   buffer each line encoded into a 64 KiB buffer, written when full
//   encode strings joined, then encoded with Buffer.from before the write
//
//   node bench/experiments/log-batching-micro.mjs [lines]
import fs from 'node:fs';

const fd = fs.openSync('/dev/null', 'w');
const sample = [];
for (let i = 0; i < 1000; i++)
  sample.push(
    `[GIN] 2026/11/23 - 20:26:01 | 200 |     ${400 + (i % 100)}.53µs |       127.0.0.1 | GET      "/noop"\n`,
  );
const count = Number(process.argv[2] ?? 2_000_000);

function join() {
  let pending = '';
  for (let i = 0; i < count; i++) {
    pending += sample[i % 1000];
    if (pending.length >= 8192) {
      fs.writeSync(fd, pending);
      pending = '';
    }
  }
}

function buffer() {
  let buf = Buffer.allocUnsafe(65536);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const line = sample[i % 1000];
    if (offset + line.length * 3 > buf.length) {
      fs.writeSync(fd, buf, 0, offset);
      buf = Buffer.allocUnsafe(65536);
      offset = 0;
    }
    offset += buf.utf8Write(line, offset);
  }
}

function encode() {
  let pending = '';
  for (let i = 0; i < count; i++) {
    pending += sample[i % 1000];
    if (pending.length >= 8192) {
      fs.writeSync(fd, Buffer.from(pending, 'utf8'));
      pending = '';
    }
  }
}

for (const run of [join, buffer, encode, join, buffer, encode]) {
  const started = performance.now();
  run();
  process.stdout.write(
    `${run.name.padEnd(6)} ${(((performance.now() - started) * 1e3) / count).toFixed(3)} µs/line\n`,
  );
}
