// Throughput of one endpoint with and without Lua/martian (autocannon, 5 s, 32 connections).
// Run: node bench/lua/gateway-bench.mjs
import { createRequire } from 'node:module';

const autocannon = createRequire(import.meta.url)('autocannon');

import { join } from 'node:path';
import { jsonBackend, startGateway } from '../../test/helpers/gateway.mjs';

const FIX = new URL('../../test/fixtures/lua', import.meta.url).pathname;
const b = await jsonBackend({
  '/source': {
    source_result: { message: 'Successfully done' },
    items: Array.from({ length: 20 }, (_, i) => ({ id: i })),
  },
});
const ep = (endpoint, extra, backendExtra = {}) => ({
  endpoint,
  backend: [{ host: [b.url], url_pattern: '/source', ...backendExtra }],
  ...extra,
});
const gw = await startGateway({
  version: 3,
  endpoints: [
    ep('/plain', {}),
    ep('/lua-post', {
      extra_config: {
        'modifier/lua-proxy': {
          sources: [join(FIX, 'decorator.lua')],
          post: 'post_proxy_decorator(response.load())',
        },
      },
    }),
    ep('/lua-pre', {
      extra_config: {
        'modifier/lua-proxy': { pre: "local r = request.load(); r:headers('X-From-Lua', '1')" },
      },
    }),
    ep(
      '/martian',
      {},
      {
        extra_config: {
          'modifier/martian': {
            'fifo.Group': {
              scope: ['request'],
              modifiers: [
                { 'header.Modifier': { scope: ['request'], name: 'X-A', value: '1' } },
                { 'querystring.Modifier': { scope: ['request'], name: 'k', value: 'v' } },
              ],
            },
          },
        },
      },
    ),
  ],
});
for (const path of ['/plain', '/lua-pre', '/lua-post', '/martian'])
  await autocannon({ url: gw.url + path, connections: 32, duration: 2 }); // warm-up
for (const path of ['/plain', '/lua-pre', '/lua-post', '/martian', '/plain']) {
  const r = await autocannon({ url: gw.url + path, connections: 32, duration: 5 });
  console.log(
    `${path}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors + r.non2xx}`,
  );
}
await gw.stop();
await b.close();
