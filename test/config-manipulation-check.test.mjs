// gw check on response manipulation: flatmap_filter errors with their path, and the warnings
// for settings KrakenD ignores.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const base = (ep) => ({ version: 3, host: ['http://api:8080'], endpoints: [ep] });

test('an unknown flatmap operation is an error at its JSON path', () => {
  const { errors } = checkConfig(
    base({
      endpoint: '/a',
      backend: [{ url_pattern: '/a' }, { url_pattern: '/b' }],
      extra_config: { proxy: { flatmap_filter: [{ type: 'nope', args: ['a'] }] } },
    }),
  );
  assert.ok(
    errors.some((e) => e.path === '$.endpoints[0].extra_config.proxy.flatmap_filter[0].type'),
    JSON.stringify(errors),
  );
});

test('a backend-level flatmap with a wrong number of args is an error', () => {
  const { errors } = checkConfig(
    base({
      endpoint: '/a',
      backend: [
        {
          url_pattern: '/a',
          extra_config: { proxy: { flatmap_filter: [{ type: 'move', args: ['only-one'] }] } },
        },
      ],
    }),
  );
  assert.ok(
    errors.some((e) => e.path.startsWith('$.endpoints[0].backend[0].extra_config.proxy.flatmap_filter[0]')),
    JSON.stringify(errors),
  );
});

test('endpoint flatmap with a single backend, and allow+deny together, are warnings', () => {
  const { errors, warnings } = checkConfig(
    base({
      endpoint: '/a',
      backend: [{ url_pattern: '/a', allow: ['x'], deny: ['y'] }],
      extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['x'] }] } },
    }),
  );
  assert.deepEqual(errors, []);
  assert.ok(warnings.some((w) => w.path === '$.endpoints[0].extra_config.proxy.flatmap_filter'));
  assert.ok(warnings.some((w) => w.path === '$.endpoints[0].backend[0].deny'));
});
