// `validation/json-schema` (endpoint): the request body must validate against the schema before
// any backend is called; otherwise 400. The schema is compiled once with ajv, for the draft its
// `$schema` declares (draft-04, -06, -07 as KrakenD; 2019-09 and 2020-12 too; draft-07 when
// absent). The error text (shown only with the router's `return_error_msg`) is written the way
// KrakenD's gojsonschema writes it: one "- field: description" line per error.

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019.js';
import Ajv2020 from 'ajv/dist/2020.js';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import AjvDraft04 from 'ajv-draft-04';
import { isObject } from '../security/util.js';
import type { CompileContext, ConfigIssue, FeatureModule, ProxyMiddleware } from '../types.js';
import { BackendError } from '../types.js';

export const JSON_SCHEMA_NAMESPACE = 'validation/json-schema';

type AjvLike = { compile(schema: object): ValidateFunction };

const ajvOptions = { allErrors: true, strict: false, validateFormats: true, logger: false as const };
const engines = new Map<string, AjvLike>();

function engineFor(schema: Record<string, unknown>): AjvLike {
  const decl = typeof schema.$schema === 'string' ? schema.$schema : '';
  const kind = decl.includes('draft-04')
    ? 'draft-04'
    : decl.includes('2020-12')
      ? '2020-12'
      : decl.includes('2019-09')
        ? '2019-09'
        : decl.includes('draft-06')
          ? 'draft-06'
          : 'draft-07';
  let engine = engines.get(kind);
  if (engine === undefined) {
    switch (kind) {
      case 'draft-04':
        engine = new (AjvDraft04 as unknown as new (o: object) => AjvLike)(ajvOptions);
        break;
      case '2020-12':
        engine = new (Ajv2020 as unknown as new (o: object) => AjvLike)(ajvOptions);
        break;
      case '2019-09':
        engine = new (Ajv2019 as unknown as new (o: object) => AjvLike)(ajvOptions);
        break;
      default: {
        const a = new (Ajv as unknown as new (o: object) => AjvLike & { addMetaSchema(s: object): void })(
          ajvOptions,
        );
        a.addMetaSchema(draft06 as object);
        engine = a;
      }
    }
    engines.set(kind, engine);
  }
  return engine;
}

export class SchemaValidationError extends BackendError {}

/** gojsonschema's type names: whole numbers are "integer". */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** "/address/street" → "address.street"; "" → "(root)". */
function fieldName(pointer: string): string {
  if (pointer === '') return '(root)';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function describe(e: ErrorObject, body: unknown): string {
  const field = fieldName(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${field}: ${String(p.missingProperty)} is required`;
    case 'type':
      return `${field}: Invalid type. Expected: ${String(p.type).split(',').join(', ')}, given: ${jsonType(valueAt(body, e.instancePath))}`;
    case 'enum':
      return `${field}: ${field} must be one of the following: ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const':
      return `${field}: ${field} does not match: ${JSON.stringify(p.allowedValue)}`;
    case 'additionalProperties':
      return `${field}: Additional property ${String(p.additionalProperty)} is not allowed`;
    case 'minLength':
      return `${field}: String length must be greater than or equal to ${String(p.limit)}`;
    case 'maxLength':
      return `${field}: String length must be less than or equal to ${String(p.limit)}`;
    case 'pattern':
      return `${field}: Does not match pattern '${String(p.pattern)}'`;
    case 'format':
      return `${field}: Does not match format '${String(p.format)}'`;
    case 'minimum':
      return `${field}: Must be greater than or equal to ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `${field}: Must be greater than ${String(p.limit)}`;
    case 'maximum':
      return `${field}: Must be less than or equal to ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `${field}: Must be less than ${String(p.limit)}`;
    case 'multipleOf':
      return `${field}: Must be a multiple of ${String(p.multipleOf)}`;
    case 'minItems':
      return `${field}: Array must have at least ${String(p.limit)} items`;
    case 'maxItems':
      return `${field}: Array must have at most ${String(p.limit)} items`;
    case 'uniqueItems':
      return `${field}: array items[${String(p.j)},${String(p.i)}] must be unique`;
    case 'minProperties':
      return `${field}: Must have at least ${String(p.limit)} properties`;
    case 'maxProperties':
      return `${field}: Must have at most ${String(p.limit)} properties`;
    case 'anyOf':
      return `${field}: Must validate at least one schema (anyOf)`;
    case 'oneOf':
      return `${field}: Must validate one and only one schema (oneOf)`;
    case 'not':
      return `${field}: Must not validate the schema (not)`;
    case 'contains':
      return `${field}: At least one of the items must match`;
    case 'dependencies':
    case 'dependentRequired':
      return `${field}: Has a dependency on ${String(p.deps)}`;
    case 'if':
      return `${field}: Must validate "${String(p.failingKeyword)}" as "if" was ${p.failingKeyword === 'then' ? 'valid' : 'not valid'}`;
    default:
      return `${field}: ${e.message ?? e.keyword}`;
  }
}

/** The error text KrakenD returns, one "- …" line per problem. */
export function formatSchemaErrors(errors: readonly ErrorObject[], body: unknown): string {
  // ajv reports anyOf/oneOf branches too; gojsonschema keeps only the summary line.
  const kept = errors.filter(
    (e) =>
      !errors.some(
        (o) =>
          o !== e &&
          (o.keyword === 'anyOf' || o.keyword === 'oneOf') &&
          e.schemaPath.startsWith(`${o.schemaPath}/`),
      ),
  );
  return kept.map((e) => `- ${describe(e, body)}`).join('\n');
}

export function compileJsonSchema(
  schema: Record<string, unknown>,
): (body: Buffer | null) => string | undefined {
  const validateFn = engineFor(schema).compile(schema);
  return (body) => {
    if (body === null || body.length === 0) return 'could not validate an empty body';
    let data: unknown;
    try {
      data = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return `invalid JSON body: ${err instanceof Error ? err.message : 'parse error'}`;
    }
    if (validateFn(data)) return undefined;
    return formatSchemaErrors(validateFn.errors ?? [], data);
  };
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw) && typeof raw !== 'boolean') return [{ path, message: 'expected a JSON schema object' }];
  if (typeof raw === 'boolean') return [];
  try {
    engineFor(raw).compile(raw);
  } catch (err) {
    return [{ path, message: `invalid JSON schema: ${err instanceof Error ? err.message : String(err)}` }];
  }
  return [];
}

export const jsonSchemaModule: FeatureModule = {
  namespace: JSON_SCHEMA_NAMESPACE,
  validate,
  proxy(raw: unknown, _ctx: CompileContext): ProxyMiddleware | undefined {
    if (!isObject(raw)) return undefined;
    const check = compileJsonSchema(raw);
    return (next) => (req) => {
      const problem = check(req.body);
      if (problem !== undefined) return Promise.reject(new SchemaValidationError(problem, 400));
      return next(req);
    };
  },
};
