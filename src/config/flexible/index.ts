// Flexible Configuration (krakend-flexibleconfig template.go, enabled in krakend-ce's
// cmd/krakend-ce/main.go when FC_ENABLE is non-empty): the `-c` file is a Go text/template
// executed with the settings as its data, and the text it renders is the configuration.
//
//   FC_SETTINGS   folder of *.json files; `name.json` is the value `.name`
//   FC_TEMPLATES  folder of *.tmpl files, each callable by its file name: {{template "x.tmpl" .}}
//   FC_PARTIALS   folder `include` reads files from, pasted as they are
//   FC_OUT        file the rendered configuration is written to (before it is parsed)

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
// load.ts imports this module too; the cycle is safe: both only call each other's functions.
import { locateJsonError } from '../json-error.js';
import { Executor, type GoFunc } from './exec.js';
import { makeFuncs, whyNotDefined } from './funcs.js';
import { parseTemplates, type Template } from './parse.js';
import type { GoMap } from './values.js';

export { TemplateError } from './parse.js';

/** The files and folders a configuration load read: what a watcher watches. */
export interface ConfigSources {
  files: string[];
  dirs: string[];
}

export interface FlexibleRender {
  text: string;
  sources: ConfigSources;
  /** FC_OUT, when set: the rendered text is there. */
  out?: string;
}

/** Problems found before rendering (settings, folders): all of them, as KrakenD lists them. */
export class FlexibleConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'FlexibleConfigError';
  }
}

export function flexibleConfigEnabled(env: NodeJS.ProcessEnv): boolean {
  // krakend-ce: any non-empty FC_ENABLE turns it on ("0 won't turn it off").
  return (env.FC_ENABLE ?? '') !== '';
}

function listDir(dir: string, ext: string, problems: string[]): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.name.endsWith(ext) && !e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(
      `${dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (err as Error).message}`,
    );
    return [];
  }
}

/** A settings file as encoding/json decodes it into map[string]interface{}. */
function readSettings(dir: string, problems: string[], files: string[]): GoMap {
  const vars: GoMap = {};
  for (const name of listDir(dir, '.json', problems)) {
    const path = join(dir, name);
    files.push(resolve(path));
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch {
      problems.push(`${path}:${describeJsonError(text)}`);
      continue;
    }
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      problems.push(
        `${path}: a settings file must hold a JSON object, found ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}`,
      );
      continue;
    }
    Object.defineProperty(vars, name.slice(0, -'.json'.length), {
      value: value ?? {},
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return vars;
}

function describeJsonError(text: string): string {
  const at = locateJsonError(text);
  const before = text.slice(0, at.offset);
  const line = before.split('\n').length;
  const column = at.offset - before.lastIndexOf('\n');
  return `${line}:${column}: invalid JSON: ${at.message}`;
}

/**
 * Renders the Flexible Configuration template `file` with the FC_* variables of `env`.
 * Throws FlexibleConfigError (settings, folders) or TemplateError (file:line:col).
 */
export function renderFlexibleConfig(file: string, env: NodeJS.ProcessEnv): FlexibleRender {
  const problems: string[] = [];
  const files: string[] = [resolve(file)];
  const dirs: string[] = [];
  const settingsDir = env.FC_SETTINGS ?? '';
  const templatesDir = env.FC_TEMPLATES ?? '';
  const partialsDir = env.FC_PARTIALS ?? '';
  const out = env.FC_OUT || undefined;
  let vars: GoMap = {};
  if (settingsDir) {
    dirs.push(resolve(settingsDir));
    vars = readSettings(settingsDir, problems, files);
  }
  const templateFiles: string[] = [];
  if (templatesDir) {
    dirs.push(resolve(templatesDir));
    for (const name of listDir(templatesDir, '.tmpl', problems)) templateFiles.push(join(templatesDir, name));
  }
  if (partialsDir) dirs.push(resolve(partialsDir));
  if (problems.length > 0) throw new FlexibleConfigError(problems);

  const funcs: Map<string, GoFunc> = makeFuncs({
    env,
    partials: partialsDir,
    onInclude: (f) => {
      const abs = resolve(f);
      if (!files.includes(abs)) files.push(abs);
    },
  });
  const hasFunc = (n: string) => funcs.has(n);
  const set = new Map<string, Template>();
  // template.ParseFiles: each file is a template named after its base name, then its defines.
  for (const path of [file, ...templateFiles]) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new FlexibleConfigError([`${path}: ${(err as Error).message}`]);
    }
    if (path !== file) files.push(resolve(path));
    for (const t of parseTemplates(path, basename(path), text, hasFunc, whyNotDefined)) set.set(t.name, t);
  }
  const text = new Executor(set, funcs).execute(basename(file), vars);
  if (out) {
    try {
      writeFileSync(out, text);
    } catch (err) {
      throw new FlexibleConfigError([
        `FC_OUT=${out}: cannot write the rendered configuration: ${(err as Error).message}`,
      ]);
    }
  }
  return { text, sources: { files, dirs }, out };
}
