// validation/json-schema, from the "JSON Schema Validation" page: 400 before any backend, the
// error text as KrakenD writes it, drafts by $schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BackendError } from '../dist/types.js';
import { compileJsonSchema, jsonSchemaModule } from '../dist/validation/json-schema.js';
import { ctxFor, request } from './fixtures/security/unit.mjs';

const address = {
  type: 'object',
  required: ['number', 'street_name', 'street_type'],
  properties: {
    number: { type: 'number' },
    street_name: { type: 'string' },
    street_type: { type: 'string', enum: ['Street', 'Avenue', 'Boulevard'] },
  },
};

describe('validation/json-schema', () => {
  test('docs example: the exact error text of the page', () => {
    const check = compileJsonSchema(address);
    assert.equal(
      check(Buffer.from('{"invalid": true}')),
      '- (root): number is required\n- (root): street_name is required\n- (root): street_type is required',
    );
    assert.equal(
      check(Buffer.from('{"number": 1, "street_name": "Main", "street_type": "Avenue"}')),
      undefined,
    );
  });

  test('type, enum and nested messages in gojsonschema style', () => {
    const check = compileJsonSchema({
      type: 'object',
      properties: {
        a: { type: 'object', properties: { b: { type: 'string', minLength: 3 } } },
        n: { type: 'integer', minimum: 2 },
      },
      additionalProperties: false,
    });
    assert.equal(
      check(Buffer.from('{"a": {"b": 7}}')),
      '- a.b: Invalid type. Expected: string, given: integer',
    );
    assert.equal(
      check(Buffer.from('{"a": {"b": "xy"}}')),
      '- a.b: String length must be greater than or equal to 3',
    );
    assert.equal(check(Buffer.from('{"n": 1}')), '- n: Must be greater than or equal to 2');
    assert.equal(check(Buffer.from('{"zz": 1}')), '- (root): Additional property zz is not allowed');
    assert.equal(
      compileJsonSchema(address)(Buffer.from('{"number": 1, "street_name": "Main", "street_type": "Road"}')),
      '- street_type: street_type must be one of the following: "Street", "Avenue", "Boulevard"',
    );
  });

  test('empty and non-JSON bodies are refused', () => {
    const check = compileJsonSchema({ type: 'object' });
    assert.equal(check(null), 'could not validate an empty body');
    assert.equal(check(Buffer.alloc(0)), 'could not validate an empty body');
    assert.match(check(Buffer.from('{not json')), /^invalid JSON body/);
    assert.equal(check(Buffer.from('[1]')), '- (root): Invalid type. Expected: object, given: array');
  });

  test('drafts: 04 (exclusiveMaximum boolean), 06, 07 default, 2019-09, 2020-12', () => {
    const d4 = compileJsonSchema({
      $schema: 'http://json-schema.org/draft-04/schema#',
      type: 'number',
      maximum: 5,
      exclusiveMaximum: true,
    });
    assert.equal(d4(Buffer.from('4')), undefined);
    assert.notEqual(d4(Buffer.from('5')), undefined);
    const d6 = compileJsonSchema({
      $schema: 'http://json-schema.org/draft-06/schema#',
      type: 'number',
      exclusiveMaximum: 5,
    });
    assert.notEqual(d6(Buffer.from('5')), undefined);
    const d2019 = compileJsonSchema({
      $schema: 'https://json-schema.org/draft/2019-09/schema',
      type: 'object',
      dependentRequired: { a: ['b'] },
    });
    assert.notEqual(d2019(Buffer.from('{"a":1}')), undefined);
    const d2020 = compileJsonSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [{ type: 'string' }],
    });
    assert.notEqual(d2020(Buffer.from('[1]')), undefined);
    assert.equal(d2020(Buffer.from('["a", 1]')), undefined);
  });

  test('proxy middleware: 400 BackendError before next; next untouched on success', async () => {
    const mw = jsonSchemaModule.proxy(address, ctxFor({}));
    let calls = 0;
    const stage = mw(async () => {
      calls++;
      return { data: {}, isComplete: true };
    });
    await assert.rejects(stage(request({ method: 'POST', body: Buffer.from('{"invalid":true}') })), (err) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.status, 400);
      assert.match(err.message, /number is required/);
      return true;
    });
    assert.equal(calls, 0);
    await stage(
      request({ method: 'POST', body: Buffer.from('{"number":1,"street_name":"a","street_type":"Street"}') }),
    );
    assert.equal(calls, 1);
  });

  test('validate(): a broken schema is reported with its path', () => {
    const issues = jsonSchemaModule.validate(
      { type: 'nonsense' },
      '$.endpoints[2].extra_config["validation/json-schema"]',
      { version: 3 },
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0].path, '$.endpoints[2].extra_config["validation/json-schema"]');
    assert.deepEqual(jsonSchemaModule.validate(address, '$.x', { version: 3 }), []);
  });
});
