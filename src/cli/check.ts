// `gw check -c FILE [-d] [-t] [-l | -n | -s SCHEMA] [-i INDENT]`: load, validate, report every
// issue with its JSON path. Exit 0 when valid ("Syntax OK!" as krakend prints it), 1 when not.

import { readFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv';
import { checkConfig, formatDuration, formatIssues, parseDuration } from '../config/index.js';
import { servedMethod } from '../config/krakend-defaults.js';
import { issuesFromAjv } from '../config/validate.js';
import { loadModulesFor } from '../extensions/registry.js';
import { Router } from '../server/router.js';
import type { ConfigIssue, ServiceConfig } from '../types.js';
import { readConfigFile } from './config-file.js';

export interface CheckCommandOptions {
  config: string;
  debug: boolean;
  /** -l / -n: KrakenD CE 2.13's schema, built in. */
  lint: boolean;
  /** -s FILE: a JSON schema file to lint against instead. */
  lintSchema?: string;
  /** -i: the indentation unit of the -d output. */
  indent?: string;
  /** -t: also build the route table as `gw run` would and try every route. */
  testRoutes?: boolean;
}

export async function checkCommand(opts: CheckCommandOptions): Promise<number> {
  const config = readConfigFile(opts.config);
  if (config === undefined) return 1;
  await loadModulesFor(config);
  // Lint reads the file as written: checkConfig rewrites what KrakenD would default.
  const lint = opts.lint || opts.lintSchema !== undefined;
  const asWritten = lint ? structuredClone(config) : undefined;
  let { errors, warnings } = checkConfig(config, { lint });
  if (asWritten !== undefined) {
    const findings =
      opts.lintSchema !== undefined
        ? await lintWithSchemaFile(opts.lintSchema, asWritten)
        : (await import('../config/lint.js')).lintConfig(asWritten, errors);
    // A lint error says more than the warning `gw run` gives for the same value.
    warnings = warnings.filter((w) => !findings.some((f) => f.path === w.path));
    errors = [...errors, ...findings];
  }
  if (opts.testRoutes && errors.length === 0) errors.push(...testRouteTable(config));
  if (errors.length > 0 || warnings.length > 0) process.stderr.write(formatIssues(errors, warnings));
  if (opts.debug)
    process.stdout.write(
      `Parsing configuration file: ${opts.config}\n${describeConfig(config, opts.indent)}`,
    );
  if (errors.length > 0) {
    process.stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'} in ${opts.config}\n`);
    return 1;
  }
  process.stdout.write('Syntax OK!\n');
  return 0;
}

/**
 * `check -s FILE`: the configuration against a JSON schema file of the user's (draft 2019-09, as
 * krakend-schema's; krakend also fetches URLs here, gw reads files only). Its problems are errors.
 */
async function lintWithSchemaFile(file: string, config: ServiceConfig): Promise<ConfigIssue[]> {
  if (/^https?:\/\//.test(file))
    return [{ path: '$', message: `-s ${file}: gw reads schema files, not URLs (download it first)` }];
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return [
      {
        path: '$',
        message: `cannot read the schema ${file}: ${err instanceof Error ? err.message : String(err)}`,
      },
    ];
  }
  const { Ajv2019 } = await import('ajv/dist/2019.js');
  const ajv = new Ajv2019({
    allErrors: true,
    strict: false,
    verbose: true,
    logger: false,
    validateFormats: false,
  });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as object);
  } catch (err) {
    return [
      {
        path: '$',
        message: `cannot compile the schema ${file}: ${err instanceof Error ? err.message : String(err)}`,
      },
    ];
  }
  return validate(config) ? [] : issuesFromAjv(validate.errors ?? [], config);
}

/**
 * Builds the router with every endpoint and checks that a request shaped like each route
 * reaches it (catches what the per-endpoint checks cannot see, e.g. a route made unreachable).
 */
export function testRouteTable(config: ServiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const router = new Router<number>();
  const endpoints = config.endpoints ?? [];
  endpoints.forEach((ep, i) => {
    const method = servedMethod(ep);
    if (method !== undefined && !router.has(method, ep.endpoint)) router.add(method, ep.endpoint, i);
  });
  endpoints.forEach((ep, i) => {
    const method = servedMethod(ep);
    if (method === undefined) return;
    const sample = ep.endpoint
      .replace(/\{[^{}]+\}/g, (_m) => `gw-sample-${i}`)
      .replace(/\/\*$/, `/gw-sample-${i}/rest`);
    const found = router.lookup(method, sample);
    if (found.kind !== 'found' || found.value !== i) {
      const where =
        found.kind === 'found'
          ? ` it reaches $.endpoints[${found.value}] instead`
          : ` the router answers ${found.kind}`;
      issues.push({
        path: `$.endpoints[${i}].endpoint`,
        message: `route ${method} ${ep.endpoint} is unreachable: ${sample} —${where}`,
      });
    }
  });
  return issues;
}

const dur = (v: unknown): string => {
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  return ms === undefined ? String(v ?? '') : formatDuration(ms);
};

/** The `-d` summary, shaped like krakend's level-1 debug output; `indent` replaces each 4-space step. */
export function describeConfig(c: ServiceConfig, indent?: string): string {
  const lines: string[] = ['Global settings'];
  lines.push(`    Name: ${c.name ?? ''}`);
  lines.push(`    Port: ${c.port ?? 8080}`);
  if (c.timeout !== undefined) lines.push(`    Default timeout: ${dur(c.timeout)}`);
  if (c.cache_ttl !== undefined) lines.push(`    Default cache TTL: ${dur(c.cache_ttl)}`);
  if (c.host !== undefined) lines.push(`    Default backend hosts: [${(c.host ?? []).join(' ')}]`);
  const rootNs = Object.keys(c.extra_config ?? {});
  lines.push(`${rootNs.length} global component configuration(s):`);
  for (const ns of rootNs) lines.push(`- ${ns}`);
  const endpoints = c.endpoints ?? [];
  lines.push(`${endpoints.length} API endpoints:`);
  for (const ep of endpoints) {
    lines.push(`    - ${(ep.method ?? 'GET').toUpperCase()} ${ep.endpoint}`);
    lines.push(`    Timeout: ${dur(ep.timeout ?? c.timeout ?? '2s')}`);
    if (ep.cache_ttl !== undefined) lines.push(`    CacheTTL: ${dur(ep.cache_ttl)}`);
    if (ep.input_query_strings) lines.push(`    QueryString: [${ep.input_query_strings.join(' ')}]`);
    if (ep.input_headers) lines.push(`    Headers to pass: [${ep.input_headers.join(' ')}]`);
    lines.push(`    OutputEncoding: ${ep.output_encoding ?? c.output_encoding ?? 'json'}`);
    const epNs = Object.keys(ep.extra_config ?? {});
    lines.push(`    ${epNs.length} endpoint component configuration(s):`);
    for (const ns of epNs) lines.push(`    - ${ns}`);
    const backends = ep.backend ?? [];
    lines.push(`    Connecting to ${backends.length} backend(s):`);
    for (const b of backends) {
      lines.push(`        [+] ${(b.method ?? ep.method ?? 'GET').toUpperCase()} ${b.url_pattern}`);
      lines.push(`        Timeout: ${dur(b.timeout ?? ep.timeout ?? c.timeout ?? '2s')}`);
      lines.push(`        Hosts: [${(b.host ?? c.host ?? []).join(' ')}]`);
      if (b.encoding) lines.push(`        Encoding: ${b.encoding}`);
      const bNs = Object.keys(b.extra_config ?? {});
      lines.push(`        ${bNs.length} backend component configuration(s):`);
      for (const ns of bNs) lines.push(`        - ${ns}`);
    }
  }
  const out =
    indent === undefined
      ? lines
      : lines.map((l) => l.replace(/^(?: {4})+/, (m) => indent.repeat(m.length / 4)));
  return `${out.join('\n')}\n\n`;
}
