// The image keeps only the uWebSockets.js binaries its own Node can load: the current build's
// for this platform, architecture and ABI, and the old build not at all past Node 20 (gw takes
// it only on Node <= 20). Both packages ship binaries for every platform and ABI: ~115 MB each.
//
//   node scripts/image/prune-uws.mjs NODE_MODULES_DIR
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const modules = process.argv[2] ?? 'node_modules';
const keep = `_${process.platform}_${process.arch}_${process.versions.modules}.node`;
let freed = 0;
const remove = (path) => {
  freed += sizeOf(path);
  rmSync(path, { recursive: true, force: true });
};
function sizeOf(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((n, f) => n + sizeOf(join(path, f)), 0);
}

/** Removes the `.node` files of `dir` that are not this Node's. */
function pruneBinaries(dir) {
  let files;
  try {
    files = readdirSync(dir);
  } catch {
    return;
  }
  for (const f of files) if (f.endsWith('.node') && !f.endsWith(keep)) remove(join(dir, f));
}

// The current build: its binaries beside uws.js.
pruneBinaries(join(modules, 'uws-current'));
// The old build (binaries/ and docs/ in its package): gone past Node 20, else pruned.
const legacy = join(modules, 'uWebSockets.js');
if (Number(process.versions.modules) > 115) {
  try {
    remove(legacy);
  } catch {}
} else {
  pruneBinaries(join(legacy, 'binaries'));
  try {
    remove(join(legacy, 'docs'));
  } catch {}
}
console.log(`prune-uws: kept *${keep}, freed ${(freed / 1048576).toFixed(1)} MiB`);
