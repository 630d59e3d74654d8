// One fixed-rate load run in its own process (the load generator never shares an event loop with
// what cpu-ab.mjs measures): node fixed-rate-load.mjs URL RATE SECONDS [HEADERS-JSON] →
// {"ok":N,"non2xx":N} on stdout.
import autocannon from 'autocannon';

const [url, rate, seconds, headers] = process.argv.slice(2);
const options = { url, connections: 64, duration: Number(seconds), overallRate: Number(rate) };
if (headers !== undefined) options.headers = JSON.parse(headers);
autocannon(options, (err, result) => {
  if (err) {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ ok: result['2xx'], non2xx: result.non2xx })}\n`);
});
