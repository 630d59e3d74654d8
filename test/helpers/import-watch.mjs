// `node --import ./import-watch.mjs …`: appends to $GW_IMPORT_LOG every ESM specifier that is
// resolved (one per line), in the main thread and in worker threads, so that a test can tell
// which packages a gateway process really loaded.
import { register } from 'node:module';

if (process.env.GW_IMPORT_LOG) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) {
        appendFileSync(${JSON.stringify(process.env.GW_IMPORT_LOG)}, specifier + '\\n');
        return next(specifier, context);
      }
    `)}`,
  );
}
