// TS reference transform micro-bench: node bench/transform-reference.mjs (after npx tsc)
import { compileBackendManipulation, manipulationFromBackend } from '../dist/transform/index.js';

const item = (i) => ({
  id: i,
  name: `user ${i}`,
  email: `u${i}@x.io`,
  address: { street: 'Kulas Light', city: 'Gwen', geo: { lat: '-37.3', lng: '81.1' } },
  user_id: i * 7,
  tags: ['a', 'b'],
});
const small = { ...item(1), company: { name: 'R-C', bs: 'harness' }, phone: '1-770', website: 'h.org' }; // ~0.3 KB
const big = { meta: { total: 500 }, collection: Array.from({ length: 500 }, (_, i) => item(i)) }; // ~65 KB
const cases = [
  ['allow 3 paths, 0.3 KB', { allow: ['id', 'address.city', 'company.name'] }, small],
  ['deny 2 paths, 0.3 KB', { deny: ['email', 'address.geo'] }, small],
  ['target+mapping+group, 0.3 KB', { target: 'address', mapping: { city: 'town' }, group: 'g' }, small],
  [
    'flatmap 3 ops, 0.3 KB',
    {
      extra_config: {
        proxy: {
          flatmap_filter: [
            { type: 'move', args: ['address.city', 'city'] },
            { type: 'del', args: ['address', 'tags'] },
            { type: 'move', args: ['email', 'contact.email'] },
          ],
        },
      },
    },
    small,
  ],
  [
    'flatmap del collection.*.user_id, 500 items',
    { extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['collection.*.user_id'] }] } } },
    big,
  ],
  [
    'flatmap rename+del over 500 items',
    {
      extra_config: {
        proxy: {
          flatmap_filter: [
            { type: 'move', args: ['collection.*.name', 'collection.*.title'] },
            { type: 'del', args: ['collection.*.address.geo', 'collection.*.tags'] },
          ],
        },
      },
    },
    big,
  ],
];
for (const [name, cfg, data] of cases) {
  const t = compileBackendManipulation(manipulationFromBackend({ url_pattern: '/', ...cfg }));
  const bytes = JSON.stringify(data).length;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    for (let i = 0; i < 100; i++) t(data);
    n += 100;
  }
  const dt = performance.now() - t0;
  console.log(
    `${name.padEnd(48)} ${(bytes / 1024).toFixed(1).padStart(6)} KB  ${Math.round((n / dt) * 1000)
      .toLocaleString('en')
      .padStart(10)} ops/s  ${((dt * 1000) / n).toFixed(2)} µs/op`,
  );
}
