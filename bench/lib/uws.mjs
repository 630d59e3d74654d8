// The uWebSockets.js build gw's own front would take here (src/server/platform.ts): the current
// one where it loads, the old one on Node 20 elsewhere. For the bench's own uWS proxies.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));

/** `{ uws, name }`: the module and its package name; throws when neither build loads. */
export function loadBenchUws() {
  try {
    return { uws: require('uws-current'), name: 'uws-current' };
  } catch (err) {
    if (Number(process.versions.modules) > 115) throw err;
    return { uws: require('uWebSockets.js'), name: 'uWebSockets.js' };
  }
}
