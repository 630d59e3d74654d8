// Backend `encoding` decoders and endpoint `output_encoding` encoders, by name. Other modules
// (xml, rss, yaml…) add theirs with registerDecoder / registerEncoder at import time.

import type { GwRequest, ResponseHeaders } from '../types.js';
import { DecodeError } from './errors.js';

/** Body bytes → data object, as lura's decoders do. `isCollection` wraps arrays. */
export type Decoder = (body: Buffer, isCollection: boolean) => Record<string, unknown>;

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`invalid JSON from backend: ${(err as Error).message}`);
  }
}

/** JSON.rawJSON (Node ≥ 21; Node 20 only behind --harmony-json-parse-with-source). */
const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

const isRawJSON = (JSON as unknown as { isRawJSON?: (v: unknown) => boolean }).isRawJSON;

/** A value JSON.parse made an object: an object or array, not a number kept as its text. */
function isComposite(v: unknown): v is object {
  return v !== null && typeof v === 'object' && (isRawJSON === undefined || !isRawJSON(v));
}

/** Whether this runtime can keep number literals as the backend wrote them. */
export const keepsNumberLiterals = typeof rawJSON === 'function';

/**
 * Text that may hold a number JavaScript would print otherwise: an exponent, a fraction ending in
 * 0 (`4.20`), 16 digits or more (past 2^53, or past a double's precision), `-0`, or a fraction
 * under 1e-6. A match inside a string only costs the slower parse; a body without one has only
 * numbers that `JSON.stringify` prints back as written.
 */
// Written so that each alternative starts on one character class: about 2.5× faster than the
// plain alternation (a 16-run of digits and dots in a number starts with a digit anyway).
const MAYBE_INEXACT = /[0-9](?:[eE]|[0-9.]{15})|\.(?:[0-9]*0(?![0-9])|0{6})|-0(?![.0-9])/;

/** A number whose text JavaScript would not print back is kept as that text (JSON.rawJSON). */
function keepLiteral(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number') return value;
  const source = context?.source;
  return source !== undefined && String(value) !== source ? rawJSON!(source) : value;
}

/**
 * As parseJson, numbers kept as the backend wrote them, as Lura's decoders do with UseNumber
 * (luraproject/lura encoding/encoding.go, JSONDecoder, SafeJSONDecoder).
 */
function parseJsonExact(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return MAYBE_INEXACT.test(text) ? JSON.parse(text, keepLiteral as never) : JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`invalid JSON from backend: ${(err as Error).message}`);
  }
}

/** The JSON decoders, reading with `parse`. */
function jsonDecoders(parse: (body: Buffer) => unknown): Array<[string, Decoder]> {
  return [
    [
      'json',
      (body, isCollection) => {
        // As lura's json.Decoder: an empty body is io.EOF, an error (use `string` or no-op for those).
        if (body.length === 0) throw new DecodeError('invalid JSON from backend: empty body (EOF)');
        const v = parse(body);
        if (isCollection) {
          if (!Array.isArray(v))
            throw new DecodeError('backend response is not a JSON array (is_collection)');
          return { collection: v };
        }
        if (!isComposite(v) || Array.isArray(v))
          throw new DecodeError('backend response is not a JSON object (use is_collection or safejson)');
        return v as Record<string, unknown>;
      },
    ],
    [
      'safejson',
      (body) => {
        if (body.length === 0) throw new DecodeError('invalid JSON from backend: empty body (EOF)');
        const v = parse(body);
        if (Array.isArray(v)) return { collection: v };
        if (isComposite(v)) return v as Record<string, unknown>;
        return { content: v };
      },
    ],
  ];
}

/**
 * The decoders that keep number literals, where the runtime can: for endpoints whose data only
 * JSON.stringify reads (pipeline.ts decides), since a kept literal is an object, not a number.
 */
const exactDecoders = new Map<string, Decoder>(keepsNumberLiterals ? jsonDecoders(parseJsonExact) : []);

/** The decoder of `name`, keeping number literals when asked and possible. */
export function getDecoderKeepingNumbers(name: string): Decoder | undefined {
  return exactDecoders.get(name) ?? decoders.get(name);
}

const decoders = new Map<string, Decoder>([
  ...jsonDecoders(parseJson),
  ['string', (body) => ({ content: body.toString('utf8') })],
]);

const isRawJson = (JSON as { isRawJSON?: (v: unknown) => boolean }).isRawJSON;

/**
 * The source text of a number kept as `JSON.rawJSON` (Node ≥ 21), else undefined: the encoders
 * that write a backend's number as text (YAML, XML, CEL's strings) write what the backend wrote,
 * as lura's json.Number keeps it.
 */
export function rawNumberText(v: unknown): string | undefined {
  return isRawJson?.(v) ? (v as { rawJSON: string }).rawJSON : undefined;
}

export function registerDecoder(name: string, decoder: Decoder): void {
  decoders.set(name, decoder);
}

export function getDecoder(name: string): Decoder | undefined {
  return decoders.get(name);
}

export function knownDecoders(): string[] {
  return [...decoders.keys(), 'no-op'];
}

export interface Encoded {
  contentType: string;
  body: Buffer | string;
}

/** Data → response body. `req` is there for negotiation. */
export type Encoder = (data: Record<string, unknown> | null, req: GwRequest) => Encoded;

const JSON_TYPE = 'application/json; charset=utf-8';

/** lura's negotiatedRender (router/gin/render.go) offers gin's MIMEJSON, MIMEPlain, MIMEXML, MIMEYAML. */
const NEGOTIATE_OFFERS = ['application/json', 'text/plain', 'application/xml', 'application/x-yaml'];

/**
 * gin's Context.NegotiateFormat over lura's offers: the Accept entries in the order written
 * (parameters and q-values ignored), each matched as a prefix of an offer, `*` matching the rest.
 * gin's parseAccept cuts parameters only after a first character (`strings.IndexByte > 0`).
 */
function negotiateFormat(accept: string | undefined): string {
  if (accept === undefined || accept.trim() === '') return NEGOTIATE_OFFERS[0];
  for (const part of accept.split(',')) {
    const semi = part.indexOf(';');
    const accepted = (semi <= 0 ? part : part.slice(0, semi)).trim();
    if (accepted === '') continue;
    for (const offer of NEGOTIATE_OFFERS) {
      let i = 0;
      for (; i < accepted.length && i < offer.length; i++) {
        if (accepted[i] === '*' || offer[i] === '*') return offer;
        if (accepted[i] !== offer[i]) break;
      }
      if (i === accepted.length) return offer;
    }
  }
  return '';
}

const jsonEncoder: Encoder = (data) => ({ contentType: JSON_TYPE, body: JSON.stringify(data ?? {}) });

const encoders: Map<string, Encoder> = new Map<string, Encoder>([
  ['json', jsonEncoder],
  [
    'json-collection',
    (data) => {
      const col = data?.collection;
      return { contentType: JSON_TYPE, body: JSON.stringify(Array.isArray(col) ? col : []) };
    },
  ],
  [
    'string',
    (data) => {
      // lura's string render writes `content` only when it is a string, else nothing.
      const c = data?.content;
      return { contentType: 'text/plain; charset=utf-8', body: typeof c === 'string' ? c : '' };
    },
  ],
  [
    'negotiate',
    (data, req): Encoded => {
      const offer = negotiateFormat(req.headers.accept);
      // As lura's negotiatedRender: text/plain and YAML are answered in YAML, XML by the xml
      // render (krakend-xml's, which krakend-ce registers); anything else in JSON.
      if (offer === 'application/xml') {
        const xml: Encoder | undefined = encoders.get('xml');
        if (xml) return xml(data, req);
      } else if (offer === 'text/plain' || offer === 'application/x-yaml') {
        const yaml: Encoder | undefined = encoders.get('yaml');
        if (yaml) return yaml(data, req);
      }
      return jsonEncoder(data, req);
    },
  ],
]);

export function registerEncoder(name: string, encoder: Encoder): void {
  encoders.set(name, encoder);
}

export function getEncoder(name: string): Encoder | undefined {
  return encoders.get(name);
}

export function knownEncoders(): string[] {
  return [...encoders.keys(), 'no-op'];
}

export type { ResponseHeaders };
