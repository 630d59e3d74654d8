// How configuration issues are printed by `gw check`, `gw run` and `gw health`.

import type { ConfigIssue } from '../types.js';

/** `ERROR  $.path: message` / `WARN   $.path: message` lines, errors first, newline-terminated. */
export function formatIssues(errors: ConfigIssue[], warnings: ConfigIssue[]): string {
  let out = '';
  for (const e of errors) out += `ERROR  ${e.path}: ${e.message}\n`;
  for (const w of warnings) out += `WARN   ${w.path}: ${w.message}\n`;
  return out;
}
