// Reading a module's config block: what an object is, how a compiler reports a mistake at its
// JSON path, and how the issues are printed by `gw check`, `gw run` and `gw health`.

import type { ConfigIssue } from '../types.js';

/** A JSON object as a config block holds it. */
export type Obj = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `ERROR  $.path: message` / `WARN   $.path: message` lines, errors first, newline-terminated. */
export function formatIssues(errors: ConfigIssue[], warnings: ConfigIssue[]): string {
  let out = '';
  for (const e of errors) out += `ERROR  ${e.path}: ${e.message}\n`;
  for (const w of warnings) out += `WARN   ${w.path}: ${w.message}\n`;
  return out;
}

/** A mistake a module's compiler finds in its block, at the JSON path where it stands. */
export class ConfigPathError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * validate() for a module whose compiler is its checker: none, or the first mistake it throws,
 * at the path a ConfigPathError names (any other error at the block's own `path`).
 */
export function compileIssues(compile: () => unknown, path: string): ConfigIssue[] {
  try {
    compile();
    return [];
  } catch (err) {
    if (err instanceof ConfigPathError) return [{ path: err.path, message: err.message }];
    return [{ path, message: (err as Error).message }];
  }
}
