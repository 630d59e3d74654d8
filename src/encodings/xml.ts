// Backend `encoding: xml` and `encoding: rss`, and `output_encoding: xml`, registered in the
// core's decoder/encoder tables (src/proxy/encodings.ts) when this module is imported.
//
// Shapes follow the Go libraries KrakenD uses:
//  - xml (clbanning/mxj): the root element is the single top key; attributes are `-name` keys,
//    the text of an element that also has attributes or children is `#text`; repeated
//    siblings become arrays; values stay strings; namespace prefixes are dropped.
//  - rss (mmcdole/gofeed, RSS 0.9x/1.0/2.0, Atom and JSON Feed): a top-level object with items,
//    author, categories, custom, copyright, description, type, language, title, published,
//    updated and img_url (when the feed has an image); items use gofeed's JSON names.
//  - xml output: krakend-xml's render over mxj's Map.Xml (see below).

import { XMLParser } from 'fast-xml-parser';
import { isObject, type Obj } from '../config/issues.js';
import {
  type Decoder,
  type Encoder,
  rawNumberText,
  registerDecoder,
  registerEncoder,
} from '../proxy/encodings.js';
import { DecodeError } from '../proxy/errors.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '-',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  removeNSPrefix: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: true,
});

function parseXml(body: Buffer): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parser.parse(body.toString('utf8'), true);
  } catch (err) {
    throw new DecodeError(`invalid XML from backend: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Object.keys(doc as object).length === 0)
    throw new DecodeError('invalid XML from backend: no root element');
  return doc as Record<string, unknown>;
}

// krakend-xml xml.go Decoder: mxj's reader meets io.EOF before a root element on an empty body,
// and the decoder's error fails the backend, as lura's JSON decoder does.
export const xmlDecoder: Decoder = (body, isCollection) => {
  if (body.length === 0) throw new DecodeError('invalid XML from backend: empty body (EOF)');
  const doc = parseXml(body);
  return isCollection ? { collection: doc } : doc;
};

// ---- rss ---------------------------------------------------------------------------------

function list(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

/** Text of an element that may carry attributes (`{ '#text': 'x', '-type': 'html' }`). */
function text(v: unknown): string {
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isObject(v)) return text(v['#text']);
  return '';
}

function attr(v: unknown, name: string): string {
  if (Array.isArray(v)) return attr(v[0], name);
  return isObject(v) ? text(v[`-${name}`]) : '';
}

function first(...values: string[]): string {
  for (const v of values) if (v !== '') return v;
  return '';
}

const TZ: Record<string, string> = {
  GMT: '+00:00',
  UT: '+00:00',
  UTC: '+00:00',
  Z: '+00:00',
  EST: '-05:00',
  EDT: '-04:00',
  CST: '-06:00',
  CDT: '-05:00',
  MST: '-07:00',
  MDT: '-06:00',
  PST: '-08:00',
  PDT: '-07:00',
};

/** A feed date as Go marshals a parsed time.Time: RFC 3339 in the date's own offset. */
export function feedTime(s: string): string | undefined {
  const trimmed = s.trim();
  if (trimmed === '') return undefined;
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) return undefined;
  let offset = '+00:00';
  const m = /(?:([+-])(\d{2}):?(\d{2})|\b([A-Z]{1,4}))$/.exec(trimmed);
  if (m?.[1]) offset = `${m[1]}${m[2]}:${m[3]}`;
  else if (m?.[4] && TZ[m[4]]) offset = TZ[m[4]];
  const sign = offset[0] === '-' ? -1 : 1;
  const offMin = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const local = new Date(ms + offMin * 60000);
  const frac = local.getUTCMilliseconds();
  const base =
    local.toISOString().slice(0, 19) + (frac ? `.${String(frac).padStart(3, '0').replace(/0+$/, '')}` : '');
  return base + (offMin === 0 ? 'Z' : offset);
}

interface Person {
  name?: string;
  email?: string;
}

/** gofeed's ParseNameAddress: `email (Name)`, `Name <email>`, a bare email or a name. */
function person(raw: string): Person | undefined {
  const s = raw.trim();
  if (s === '') return undefined;
  let m = /^(\S+@\S+)\s*\((.*)\)$/.exec(s);
  if (m) return { name: m[2].trim(), email: m[1] };
  m = /^(.*)<(\S+@\S+)>$/.exec(s);
  if (m) return m[1].trim() ? { name: m[1].trim(), email: m[2] } : { email: m[2] };
  if (/^\S+@\S+\.\S+$/.test(s)) return { email: s };
  return { name: s };
}

function clean(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === '' || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

function withDates(item: Obj, published: string, updated: string): void {
  item.published = published;
  item.publishedParsed = feedTime(published);
  item.updated = updated;
  item.updatedParsed = feedTime(updated);
}

function rssItem(it: Obj): Obj {
  const link = text(it.link);
  const author = person(first(text(it.author), text(it.creator)));
  const item: Obj = {
    title: text(it.title),
    description: text(it.description),
    content: text(it.encoded),
    link,
    links: link ? [link] : [],
  };
  withDates(item, first(text(it.pubDate), text(it.date)), '');
  item.author = author;
  item.authors = author ? [author] : [];
  item.guid = text(it.guid);
  const image =
    attr(it.image, 'href') || text(isObject(it.image) ? it.image.url : '') || attr(it.thumbnail, 'url');
  item.image = image ? { url: image } : undefined;
  item.categories = [...list(it.category), ...list(it.subject)].map(text).filter((c) => c !== '');
  item.enclosures = list(it.enclosure)
    .map((e) => clean({ url: attr(e, 'url'), length: attr(e, 'length'), type: attr(e, 'type') }))
    .filter((e) => Object.keys(e).length > 0);
  return clean(item);
}

function atomLinks(v: unknown): { alternate: string; all: string[]; enclosures: Obj[] } {
  let alternate = '';
  const all: string[] = [];
  const enclosures: Obj[] = [];
  for (const l of list(v)) {
    const href = attr(l, 'href') || text(l);
    const rel = attr(l, 'rel') || 'alternate';
    if (rel === 'enclosure') {
      enclosures.push(clean({ url: href, length: attr(l, 'length'), type: attr(l, 'type') }));
      continue;
    }
    if (href) all.push(href);
    if (rel === 'alternate' && alternate === '') alternate = href;
  }
  return { alternate: alternate || all[0] || '', all, enclosures };
}

function atomPerson(v: unknown): Person | undefined {
  const p = list(v)[0];
  if (!isObject(p)) return typeof p === 'string' ? person(p) : undefined;
  const out = clean({ name: text(p.name), email: text(p.email) }) as Person;
  return Object.keys(out).length > 0 ? out : undefined;
}

function atomItem(e: Obj): Obj {
  const links = atomLinks(e.link);
  const author = atomPerson(e.author);
  const item: Obj = {
    title: text(e.title),
    description: text(e.summary),
    content: text(e.content),
    link: links.alternate,
    links: links.all,
  };
  withDates(item, text(e.published), text(e.updated));
  item.author = author;
  item.authors = author ? [author] : [];
  item.guid = text(e.id);
  item.categories = list(e.category)
    .map((c) => attr(c, 'term') || text(c))
    .filter((c) => c !== '');
  item.enclosures = links.enclosures;
  return clean(item);
}

function feedResult(f: {
  type: string;
  title: string;
  description: string;
  language: string;
  copyright: string;
  published: string;
  updated: string;
  author: Person | undefined;
  categories: string[];
  image: string;
  items: Obj[];
}): Obj {
  const out: Obj = {
    items: f.items.length > 0 ? f.items : null,
    author: f.author ?? null,
    categories: f.categories.length > 0 ? f.categories : null,
    custom: null,
    copyright: f.copyright,
    description: f.description,
    type: f.type,
    language: f.language,
    title: f.title,
    published: f.published,
    updated: f.updated,
  };
  if (f.image) out.img_url = f.image;
  return out;
}

function decodeRssDoc(doc: Obj): Obj {
  if (isObject(doc.rss) || isObject(doc.RDF)) {
    const root = (isObject(doc.rss) ? doc.rss : doc.RDF) as Obj;
    const channel = (list(root.channel)[0] ?? {}) as Obj;
    // RSS 1.0 keeps items and the image next to the channel, not inside it
    const items = [...list(channel.item), ...list(root.item)].filter(isObject).map(rssItem);
    const image = isObject(channel.image) ? text(channel.image.url) : '';
    return feedResult({
      type: 'rss',
      title: text(channel.title),
      description: text(channel.description),
      language: first(text(channel.language), text(channel.language)),
      copyright: first(text(channel.copyright), text(channel.rights)),
      published: text(channel.pubDate),
      updated: first(text(channel.lastBuildDate), text(channel.date)),
      author: person(first(text(channel.managingEditor), text(channel.webMaster), text(channel.creator))),
      categories: list(channel.category)
        .map(text)
        .filter((c) => c !== ''),
      image: image || (isObject(root.image) ? text(root.image.url) : ''),
      items,
    });
  }
  if (isObject(doc.feed)) {
    const feed = doc.feed;
    return feedResult({
      type: 'atom',
      title: text(feed.title),
      description: text(feed.subtitle),
      language: attr(feed, 'lang'),
      copyright: text(feed.rights),
      published: '',
      updated: text(feed.updated),
      author: atomPerson(feed.author),
      categories: list(feed.category)
        .map((c) => attr(c, 'term') || text(c))
        .filter((c) => c !== ''),
      image: first(text(feed.logo), text(feed.icon)),
      items: list(feed.entry).filter(isObject).map(atomItem),
    });
  }
  throw new DecodeError('failed to detect feed type');
}

function decodeJsonFeed(v: Obj): Obj {
  const items = list(v.items)
    .filter(isObject)
    .map((it) => {
      const author = isObject(it.author) ? (clean({ name: text(it.author.name) }) as Person) : undefined;
      const item: Obj = {
        title: text(it.title),
        description: text(it.summary),
        content: first(text(it.content_html), text(it.content_text)),
        link: text(it.url),
        links: text(it.url) ? [text(it.url)] : [],
      };
      withDates(item, text(it.date_published), text(it.date_modified));
      item.author = author && Object.keys(author).length > 0 ? author : undefined;
      item.authors = item.author ? [item.author] : [];
      item.guid = text(it.id);
      item.image = text(it.image) ? { url: text(it.image) } : undefined;
      item.categories = list(it.tags).map(text);
      return clean(item);
    });
  const author = isObject(v.author) ? (clean({ name: text(v.author.name) }) as Person) : undefined;
  return feedResult({
    type: 'json',
    title: text(v.title),
    description: text(v.description),
    language: text(v.language),
    copyright: '',
    published: '',
    updated: '',
    author: author && Object.keys(author).length > 0 ? author : undefined,
    categories: [],
    image: first(text(v.icon), text(v.favicon)),
    items,
  });
}

export const rssDecoder: Decoder = (body) => {
  const head = body.subarray(0, 64).toString('utf8').trimStart();
  if (head.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new DecodeError(`invalid JSON feed from backend: ${(err as Error).message}`);
    }
    if (!isObject(v)) throw new DecodeError('failed to detect feed type');
    return decodeJsonFeed(v);
  }
  return decodeRssDoc(parseXml(body));
};

// ---- xml output --------------------------------------------------------------------------
//
// krakend-xml's render (gin/render.go Render): `mxj.Map(data).XmlWriter(w)` after setting
// Content-Type to gin's MIMEXML, with mxj.XMLEscapeChars(true). mxj v1 (xml.go Map.Xml and
// mapToXmlIndent) decides the shape:
//  - the root is the data's only key when it has exactly one (unless that key holds a list with
//    a non-object item), `doc` otherwise — so `{"a":[{…},{…}]}` is two `<a>` roots;
//  - `-name` keys are attributes (sorted), `#text` is the text of an element with attributes;
//  - other keys are child elements, sorted; a list repeats its key; null, `""` and `[]` are `<k/>`;
//  - `& < > " '` are escaped in text and attributes;
//  - what mxj refuses (an object or list as an attribute, `#text` beside child elements) makes
//    the render write nothing: the answer is an empty body.

class XmlShapeError extends Error {}

function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** fmt's %v of a scalar (a backend's numbers are json.Number: their text). */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return escapeXml(v);
  const raw = rawNumberText(v);
  if (raw !== undefined) return raw;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}

function writeElement(out: string[], tag: string, v: unknown): void {
  if (Array.isArray(v)) {
    if (v.length === 0) out.push(`<${tag}/>`);
    else for (const item of v) writeElement(out, tag, item);
    return;
  }
  if (v === null || v === undefined) {
    out.push(`<${tag}/>`);
    return;
  }
  if (!isObject(v) || rawNumberText(v) !== undefined) {
    const text = scalarText(v) ?? '';
    out.push(text === '' ? `<${tag}/>` : `<${tag}>${text}</${tag}>`);
    return;
  }
  const keys = Object.keys(v);
  let open = `<${tag}`;
  const elements: string[] = [];
  let attrs = 0;
  for (const k of keys.slice().sort()) {
    if (k.length > 1 && k[0] === '-') {
      const text = scalarText(v[k]);
      if (text === undefined) throw new XmlShapeError(`invalid attribute value for: ${k}`);
      open += ` ${k.slice(1)}="${text}"`;
      attrs++;
    } else elements.push(k);
  }
  if (attrs === keys.length) {
    out.push(`${open}/>`);
    return;
  }
  if (Object.hasOwn(v, '#text')) {
    if (attrs + 1 !== keys.length) throw new XmlShapeError('invalid attribute key label: #text');
    const t = v['#text'];
    out.push(`${open}>${scalarText(t) ?? (t === null ? '<nil>' : JSON.stringify(t))}</${tag}>`);
    return;
  }
  out.push(`${open}>`);
  for (const k of elements) writeElement(out, k, v[k]);
  out.push(`</${tag}>`);
}

/** mxj's Map.Xml() without a root tag argument. */
export function toXml(data: Record<string, unknown> | null): string {
  const m = data ?? {};
  const out: string[] = [];
  const keys = Object.keys(m);
  try {
    if (keys.length === 1) {
      const only = m[keys[0]];
      if (Array.isArray(only) && only.some((item) => !isObject(item))) writeElement(out, 'doc', m);
      else writeElement(out, keys[0], only);
    } else writeElement(out, 'doc', m);
  } catch (err) {
    if (err instanceof XmlShapeError) return '';
    throw err;
  }
  return out.join('');
}

export const xmlEncoder: Encoder = (data) => ({
  contentType: 'application/xml',
  body: toXml(data),
});

registerDecoder('xml', xmlDecoder);
registerDecoder('rss', rssDecoder);
registerEncoder('xml', xmlEncoder);
