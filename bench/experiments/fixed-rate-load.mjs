// One fixed-rate load run in its own process (the load generator never shares an event loop with
// what cpu-ab.mjs measures): node fixed-rate-load.mjs URL RATE SECONDS → {"ok":N,"non2xx":N} on stdout.
import autocannon from 'autocannon';

const [url, rate, seconds] = process.argv.slice(2);
autocannon({ url, connections: 64, duration: Number(seconds), overallRate: Number(rate) }, (err, result) => {
  if (err) {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ ok: result['2xx'], non2xx: result.non2xx })}\n`);
});
