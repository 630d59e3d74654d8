// Reading a configuration file: JSON, YAML or TOML by extension ("Supported Configuration
// Formats"), rendered first as a Flexible Configuration template when FC_ENABLE is set, then the
// KRAKEND_* environment overrides. Every failure is a ConfigLoadError that says where
// (file:line:column) and what went wrong.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import type { ConfigIssue, ServiceConfig } from '../types.js';
import { applyEnvOverrides } from './env.js';
import {
  type ConfigSources,
  FlexibleConfigError,
  type FlexibleRender,
  flexibleConfigEnabled,
  renderFlexibleConfig,
  TemplateError,
} from './flexible/index.js';
import { lineColumn, locateJsonError } from './json-error.js';

export type { ConfigSources } from './flexible/index.js';

export class ConfigLoadError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    this.name = 'ConfigLoadError';
    this.issues = issues;
  }
}

// The YAML and TOML parsers load with the first such file (synchronously: loading is sync):
// a JSON configuration never pays for them (yaml alone is ~6 MB per thread).
const require = createRequire(import.meta.url);

type Format = 'json' | 'yaml' | 'toml';

const FORMATS: Record<string, Format> = { '.json': 'json', '.yaml': 'yaml', '.yml': 'yaml', '.toml': 'toml' };
/** Formats KrakenD reads that gw does not: say so rather than failing on a parse error. */
const UNSUPPORTED = new Set(['.properties', '.props', '.prop', '.hcl']);

function fail(message: string): never {
  throw new ConfigLoadError([{ path: '$', message }]);
}

export function formatOf(file: string): Format {
  const ext = extname(file).toLowerCase();
  if (UNSUPPORTED.has(ext))
    fail(`${file}: the ${ext} format is not supported by gw (use .json, .yaml, .yml or .toml)`);
  return FORMATS[ext] ?? 'json';
}

/** Parses configuration text; `name` only labels messages. */
export function parseConfigText(text: string, format: Format, name = 'config'): unknown {
  // A UTF-8 BOM is legal in files saved by some editors and would break JSON.parse.
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  switch (format) {
    case 'json':
      try {
        return JSON.parse(src);
      } catch {
        const at = locateJsonError(src);
        const { line, column } = lineColumn(src, at.offset);
        return fail(`${name}:${line}:${column}: invalid JSON: ${at.message}`);
      }
    case 'yaml': {
      const { parseDocument } = require('yaml') as typeof import('yaml');
      const doc = parseDocument(src, { uniqueKeys: true });
      if (doc.errors.length > 0) {
        const e = doc.errors[0];
        const pos = e.linePos?.[0];
        const where = pos ? `${name}:${pos.line}:${pos.col}` : name;
        return fail(
          `${where}: invalid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        );
      }
      return doc.toJS({ maxAliasCount: 1000 });
    }
    case 'toml':
      try {
        const { parse: parseToml } = require('smol-toml') as typeof import('smol-toml');
        // Plain objects (smol-toml builds null-prototype ones) and dates as ISO strings, as in JSON.
        return JSON.parse(JSON.stringify(parseToml(src)));
      } catch (err) {
        const e = err as { line?: number; column?: number; message?: string };
        const detail = (e.message ?? String(err)).split('\n')[0].replace(/^Invalid TOML document: /, '');
        const where = e.line !== undefined ? `${name}:${e.line}:${e.column}` : name;
        return fail(`${where}: invalid TOML: ${detail}`);
      }
  }
}

/**
 * Loads, parses and applies KRAKEND_* overrides. Throws ConfigLoadError when the file cannot
 * be read or parsed, or is not an object; the structure is checked later by checkConfig.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  return loadConfigFileWithSources(file, env).config;
}

/**
 * loadConfigFile, also naming the files and folders the load read: the file itself, and with
 * FC_ENABLE the settings, templates and partials it used and their folders (what `--watch`
 * watches).
 */
export function loadConfigFileWithSources(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: ServiceConfig; sources: ConfigSources } {
  let parsed: unknown;
  let sources: ConfigSources;
  if (flexibleConfigEnabled(env)) {
    const rendered = renderTemplate(file, env);
    sources = rendered.sources;
    parsed = parseRendered(file, rendered, renderedFormat(file, rendered.out));
  } else {
    const format = formatOf(file);
    const text = readConfig(file);
    try {
      parsed = parseConfigText(text, format, file);
    } catch (err) {
      // A template read without FC_ENABLE fails at its first `{{`: say what would read it.
      if (err instanceof ConfigLoadError && text.includes('{{'))
        fail(`${err.issues[0].message} (a Flexible Configuration template? set FC_ENABLE=1)`);
      throw err;
    }
    sources = { files: [resolve(file)], dirs: [] };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    fail(`${file}: the configuration must be an object ({"version": 3, ...}), found ${describe(parsed)}`);
  const config = parsed as Record<string, unknown>;
  const { issues } = applyEnvOverrides(config, env);
  if (issues.length > 0) throw new ConfigLoadError(issues);
  return { config: config as ServiceConfig, sources };
}

function readConfig(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    return fail(`cannot read configuration file ${file}: ${why}`);
  }
}

function renderTemplate(file: string, env: NodeJS.ProcessEnv): FlexibleRender {
  readConfig(file);
  try {
    return renderFlexibleConfig(file, env);
  } catch (err) {
    if (err instanceof TemplateError) return fail(`flexible configuration: ${err.message}`);
    // A render too large for a JavaScript string: an answer, not a crash.
    if (err instanceof RangeError) return fail(`flexible configuration: ${file}: ${err.message}`);
    if (err instanceof FlexibleConfigError)
      throw new ConfigLoadError(
        err.problems.map((p) => ({ path: '$', message: `flexible configuration: ${p}` })),
      );
    throw err;
  }
}

/**
 * krakend-flexibleconfig writes the rendered text to FC_OUT (or a temporary `.json` file) and
 * parses that, so FC_OUT's extension decides the format; gw also reads a `.yaml`/`.toml`
 * template without FC_OUT as its own format.
 */
function renderedFormat(file: string, out: string | undefined): Format {
  if (out) return formatOf(out);
  const own = formatOf(file);
  return own === 'yaml' || own === 'toml' ? own : 'json';
}

function parseRendered(file: string, rendered: FlexibleRender, format: Format): unknown {
  try {
    return parseConfigText(rendered.text, format, `${file} (rendered)`);
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    const message = err.issues[0].message;
    const m = /^.*? \(rendered\):(\d+):\d+: /.exec(message);
    const lineText = m ? rendered.text.split('\n')[Number(m[1]) - 1] : undefined;
    const shown = lineText !== undefined ? `\n  line ${m?.[1]}: ${lineText.trim().slice(0, 200)}` : '';
    const hint = rendered.out
      ? `the rendered text is in ${rendered.out}`
      : 'set FC_OUT=out.json to write the rendered text and look at it whole';
    return fail(`${message}${shown}\n  (${hint})`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}
