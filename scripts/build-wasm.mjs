// Builds every AssemblyScript entry `wasm/*.ts` into `build/<name>.wasm` with asconfig.json's
// release target. An entry whose first line reads `// asc-flags: …` gets those flags too
// (e.g. shared memory for the rate-limit table). Sub-folders of wasm/ hold library code.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin', 'asc.js');
const target = process.env.GW_WASM_TARGET ?? 'release';

mkdirSync(join(root, 'build'), { recursive: true });
const entries = readdirSync(join(root, 'wasm')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
for (const entry of entries) {
  const src = join('wasm', entry);
  const first = readFileSync(join(root, src), 'utf8').split('\n', 1)[0];
  const extra = first.startsWith('// asc-flags:')
    ? first.slice('// asc-flags:'.length).trim().split(/\s+/)
    : [];
  const out = join('build', entry.replace(/\.ts$/, '.wasm'));
  execFileSync(
    process.execPath,
    [asc, src, '--config', 'asconfig.json', '--target', target, '-o', out, ...extra],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  console.log(`wasm: ${src} → ${out}`);
}
