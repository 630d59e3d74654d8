// What keeping number literals costs the JSON decoder (src/proxy/encodings.ts): the plain decoder
// against the one that keeps literals, on a body JavaScript prints back as written (the scan lets
// it take the plain parse) and on one with a literal it would not (`4.20`: the parse with source).
// Microseconds per decode, median of rounds. Needs JSON.rawJSON (Node ≥ 21) for the second column
// to differ from the first.
//
//   node bench/experiments/json-literals.mjs [--rounds 9] [--items 200]
import { getDecoder, getDecoderKeepingNumbers, keepsNumberLiterals } from '../../dist/proxy/encodings.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const rounds = option('--rounds', 9);
const items = option('--items', 200);

const item = (i, price) => `{"id":${i},"name":"item ${i}","price":${price},"tags":["a","b"],"ok":true}`;
const body = (price) =>
  Buffer.from(`{"items":[${Array.from({ length: items }, (_, i) => item(i, price(i))).join(',')}]}`);
const bodies = {
  'printed back as written (1.25)': body(() => '1.25'),
  'a literal JS prints otherwise (4.20)': body(() => '4.20'),
};

function usPerDecode(decode, buf) {
  const n = Math.max(50, Math.floor(2e7 / buf.length));
  for (let i = 0; i < 50; i++) decode(buf, false);
  const t = performance.now();
  for (let i = 0; i < n; i++) decode(buf, false);
  return ((performance.now() - t) / n) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const plain = getDecoder('json');
const exact = getDecoderKeepingNumbers('json');
console.log(`node ${process.version}, JSON.rawJSON: ${keepsNumberLiterals}, ${rounds} rounds`);
for (const [name, buf] of Object.entries(bodies)) {
  const a = [];
  const b = [];
  for (let r = 0; r < rounds; r++) {
    a.push(usPerDecode(plain, buf));
    b.push(usPerDecode(exact, buf));
  }
  const pa = median(a);
  const pb = median(b);
  console.log(
    `${name}, ${buf.length} bytes: plain ${pa.toFixed(1)} µs, keeping literals ${pb.toFixed(1)} µs (×${(pb / pa).toFixed(2)})`,
  );
}
