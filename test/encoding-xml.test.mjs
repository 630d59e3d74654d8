// Backend encodings xml and rss, output_encoding xml: unit tests on the decoders/encoder and
// the docs' "mixed encodings" example through the real gateway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import '../dist/encodings/xml.js';
import { feedTime, toXml } from '../dist/encodings/xml.js';
import { getDecoder, getEncoder } from '../dist/proxy/encodings.js';
import { get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

const RSS = `<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Liftoff News</title>
    <link>http://liftoff.msfc.nasa.gov/</link>
    <description>Liftoff to Space Exploration.</description>
    <language>en-us</language>
    <copyright>NASA</copyright>
    <pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>
    <lastBuildDate>Tue, 10 Jun 2003 09:41:01 GMT</lastBuildDate>
    <managingEditor>editor@example.com (Ed Itor)</managingEditor>
    <category>science</category>
    <image><url>http://liftoff.msfc.nasa.gov/logo.png</url><title>Liftoff</title></image>
    <item>
      <title>Star City</title>
      <link>http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp</link>
      <description>How do Americans get ready to work with Russians aboard the International Space Station?</description>
      <content:encoded><![CDATA[<p>Full <b>text</b></p>]]></content:encoded>
      <pubDate>Tue, 03 Jun 2003 09:39:21 -0700</pubDate>
      <guid>http://liftoff.msfc.nasa.gov/2003/06/03.html#item573</guid>
      <dc:creator>Jane Roe</dc:creator>
      <category>space</category>
      <category>russia</category>
      <enclosure url="http://liftoff.msfc.nasa.gov/a.mp3" length="24986239" type="audio/mpeg"/>
    </item>
    <item>
      <title>Sky watchers in Europe</title>
      <link>http://liftoff.msfc.nasa.gov/news/2003/news-sky.asp</link>
    </item>
  </channel>
</rss>`;

const ATOM = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Example Feed</title>
  <subtitle>A subtitle.</subtitle>
  <link href="http://example.org/"/>
  <updated>2003-12-13T18:30:02Z</updated>
  <author><name>John Doe</name><email>johndoe@example.com</email></author>
  <rights>Copyright (c) 2003</rights>
  <logo>http://example.org/logo.png</logo>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <entry>
    <title type="html">Atom-Powered Robots Run Amok</title>
    <link rel="alternate" href="http://example.org/2003/12/13/atom03"/>
    <link rel="enclosure" href="http://example.org/audio.mp3" length="1337" type="audio/mpeg"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <published>2003-12-13T08:29:29-04:00</published>
    <updated>2003-12-13T18:30:02Z</updated>
    <summary>Some text.</summary>
    <content type="html">&lt;p&gt;Body&lt;/p&gt;</content>
    <category term="robots"/>
  </entry>
</feed>`;

const XML_USER = `<?xml version="1.0" encoding="UTF-8"?>
<user id="42" xmlns:x="urn:example">
  <name>Alice</name>
  <x:role>admin</x:role>
  <tags><tag>a</tag><tag>b</tag></tags>
  <note lang="en">hello &amp; welcome</note>
  <age>33</age>
  <empty/>
</user>`;

describe('xml decoder (mxj shapes)', () => {
  const xml = getDecoder('xml');

  test('root element, attributes as -name, #text, repeated siblings as arrays, strings kept', () => {
    assert.deepEqual(xml(Buffer.from(XML_USER), false), {
      user: {
        '-id': '42',
        name: 'Alice',
        role: 'admin',
        tags: { tag: ['a', 'b'] },
        note: { '-lang': 'en', '#text': 'hello & welcome' },
        age: '33',
        empty: '',
      },
    });
  });

  // krakend-xml xml.go Decoder: mxj meets io.EOF before a root element on an empty body
  test('is_collection wraps the document; an empty body and bad XML fail', () => {
    assert.deepEqual(xml(Buffer.from('<a><b>1</b></a>'), true), { collection: { a: { b: '1' } } });
    assert.throws(() => xml(Buffer.alloc(0), false), /empty body \(EOF\)/);
    assert.throws(() => xml(Buffer.from('<a><b></a>'), false));
    assert.throws(() => xml(Buffer.from('not xml at all'), false));
  });
});

describe('rss decoder (gofeed shapes)', () => {
  const rss = getDecoder('rss');

  test('RSS 2.0', () => {
    const out = rss(Buffer.from(RSS), false);
    assert.equal(out.type, 'rss');
    assert.equal(out.title, 'Liftoff News');
    assert.equal(out.description, 'Liftoff to Space Exploration.');
    assert.equal(out.language, 'en-us');
    assert.equal(out.copyright, 'NASA');
    assert.equal(out.published, 'Tue, 10 Jun 2003 04:00:00 GMT');
    assert.equal(out.updated, 'Tue, 10 Jun 2003 09:41:01 GMT');
    assert.deepEqual(out.author, { name: 'Ed Itor', email: 'editor@example.com' });
    assert.deepEqual(out.categories, ['science']);
    assert.equal(out.custom, null);
    assert.equal(out.img_url, 'http://liftoff.msfc.nasa.gov/logo.png');
    assert.equal(out.items.length, 2);
    assert.deepEqual(out.items[0], {
      title: 'Star City',
      description: 'How do Americans get ready to work with Russians aboard the International Space Station?',
      content: '<p>Full <b>text</b></p>',
      link: 'http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp',
      links: ['http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp'],
      published: 'Tue, 03 Jun 2003 09:39:21 -0700',
      publishedParsed: '2003-06-03T09:39:21-07:00',
      author: { name: 'Jane Roe' },
      authors: [{ name: 'Jane Roe' }],
      guid: 'http://liftoff.msfc.nasa.gov/2003/06/03.html#item573',
      categories: ['space', 'russia'],
      enclosures: [{ url: 'http://liftoff.msfc.nasa.gov/a.mp3', length: '24986239', type: 'audio/mpeg' }],
    });
    assert.deepEqual(out.items[1], {
      title: 'Sky watchers in Europe',
      link: 'http://liftoff.msfc.nasa.gov/news/2003/news-sky.asp',
      links: ['http://liftoff.msfc.nasa.gov/news/2003/news-sky.asp'],
    });
  });

  test('Atom', () => {
    const out = rss(Buffer.from(ATOM), false);
    assert.equal(out.type, 'atom');
    assert.equal(out.title, 'Example Feed');
    assert.equal(out.description, 'A subtitle.');
    assert.equal(out.language, 'en');
    assert.equal(out.copyright, 'Copyright (c) 2003');
    assert.equal(out.updated, '2003-12-13T18:30:02Z');
    assert.deepEqual(out.author, { name: 'John Doe', email: 'johndoe@example.com' });
    assert.equal(out.img_url, 'http://example.org/logo.png');
    assert.deepEqual(out.items, [
      {
        title: 'Atom-Powered Robots Run Amok',
        description: 'Some text.',
        content: '<p>Body</p>',
        link: 'http://example.org/2003/12/13/atom03',
        links: ['http://example.org/2003/12/13/atom03'],
        published: '2003-12-13T08:29:29-04:00',
        publishedParsed: '2003-12-13T08:29:29-04:00',
        updated: '2003-12-13T18:30:02Z',
        updatedParsed: '2003-12-13T18:30:02Z',
        guid: 'urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a',
        categories: ['robots'],
        enclosures: [{ url: 'http://example.org/audio.mp3', length: '1337', type: 'audio/mpeg' }],
      },
    ]);
  });

  test('JSON Feed', () => {
    const out = rss(
      Buffer.from(
        JSON.stringify({
          version: 'https://jsonfeed.org/version/1.1',
          title: 'My Example Feed',
          home_page_url: 'https://example.org/',
          items: [
            {
              id: '2',
              content_text: 'This is a second item.',
              url: 'https://example.org/second-item',
              tags: ['x'],
            },
          ],
        }),
      ),
      false,
    );
    assert.equal(out.type, 'json');
    assert.equal(out.title, 'My Example Feed');
    assert.deepEqual(out.items, [
      {
        content: 'This is a second item.',
        link: 'https://example.org/second-item',
        links: ['https://example.org/second-item'],
        guid: '2',
        categories: ['x'],
      },
    ]);
  });

  test('not a feed', () => {
    assert.throws(() => rss(Buffer.from('<html><body/></html>'), false), /feed type/);
  });

  test('dates are rendered as Go marshals time.Time', () => {
    assert.equal(feedTime('Tue, 03 Jun 2003 09:39:21 GMT'), '2003-06-03T09:39:21Z');
    assert.equal(feedTime('Sat, 07 Sep 2002 00:00:01 EDT'), '2002-09-07T00:00:01-04:00');
    assert.equal(feedTime('2003-12-13T18:30:02.25+01:00'), '2003-12-13T18:30:02.25+01:00');
    assert.equal(feedTime('not a date'), undefined);
  });
});

describe('xml output encoder', () => {
  test('root doc, sorted keys, attributes, #text, arrays as repeated elements, escaping', () => {
    assert.equal(
      toXml({
        name: 'a<b',
        id: 7,
        list: [1, 2],
        meta: { '-lang': 'en', '#text': 'hi' },
        none: null,
        ok: true,
      }),
      '<doc><id>7</id><list>1</list><list>2</list><meta lang="en">hi</meta><name>a&lt;b</name><none/><ok>true</ok></doc>',
    );
    // krakend-xml gin/render.go Render: gin's MIMEXML, and mxj's Map.Xml takes a lone key as the root
    const enc = getEncoder('xml')({ a: { b: 'c' } }, { headers: {} });
    assert.equal(enc.contentType, 'application/xml');
    assert.equal(enc.body, '<a><b>c</b></a>');
  });

  test('xml → data → xml keeps attributes and text', () => {
    const data = getDecoder('xml')(Buffer.from('<item id="1"><v>x</v></item>'), false);
    assert.equal(toXml(data), '<item id="1"><v>x</v></item>');
  });
});

describe('encodings end to end (docs "mixed encodings")', () => {
  let json;
  let xmlBackend;
  let gw;

  before(async () => {
    json = await jsonBackend({ '/a': { a: 1, shared: 'json' } });
    xmlBackend = await startBackend((req, res) => {
      const path = req.url.split('?')[0];
      if (path === '/b') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(XML_USER);
      } else if (path === '/c') {
        res.writeHead(200, { 'content-type': 'application/rss+xml' });
        res.end(RSS);
      } else if (path === '/broken') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<a><b></a>');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    gw = await startGateway({
      version: 3,
      endpoints: [
        {
          endpoint: '/abc',
          output_encoding: 'json',
          backend: [
            { url_pattern: '/a', encoding: 'json', host: [json.url] },
            { url_pattern: '/b', encoding: 'xml', host: [xmlBackend.url] },
            {
              url_pattern: '/c',
              encoding: 'rss',
              host: [xmlBackend.url],
              group: 'feed',
              allow: ['title', 'items'],
            },
          ],
        },
        {
          endpoint: '/as-xml',
          output_encoding: 'xml',
          backend: [{ url_pattern: '/a', host: [json.url] }],
        },
        {
          endpoint: '/xml-to-xml',
          output_encoding: 'xml',
          backend: [
            {
              url_pattern: '/b',
              encoding: 'xml',
              host: [xmlBackend.url],
              target: 'user',
              allow: ['name', '-id'],
            },
          ],
        },
        {
          endpoint: '/negotiate',
          output_encoding: 'negotiate',
          backend: [{ url_pattern: '/a', host: [json.url] }],
        },
        {
          endpoint: '/broken',
          backend: [{ url_pattern: '/broken', encoding: 'xml', host: [xmlBackend.url] }],
        },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await json?.close();
    await xmlBackend?.close();
  });

  test('json + xml + rss merged into one JSON object', async () => {
    const r = await get(`${gw.url}/abc`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-krakend-completed'), 'true');
    assert.equal(r.json.a, 1);
    assert.equal(r.json.user.name, 'Alice');
    assert.equal(r.json.user['-id'], '42');
    assert.equal(r.json.feed.title, 'Liftoff News');
    assert.equal(r.json.feed.items[0].title, 'Star City');
    assert.deepEqual(Object.keys(r.json.feed).sort(), ['items', 'title']);
  });

  test('output_encoding xml', async () => {
    const r = await get(`${gw.url}/as-xml`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/xml/);
    assert.equal(r.text, '<doc><a>1</a><shared>json</shared></doc>');
    const x = await get(`${gw.url}/xml-to-xml`);
    assert.equal(x.text, '<doc id="42"><name>Alice</name></doc>');
  });

  test('negotiate answers XML to Accept: application/xml', async () => {
    const r = await get(`${gw.url}/negotiate`, { headers: { accept: 'application/xml' } });
    assert.match(r.headers.get('content-type'), /xml/);
    assert.equal(r.text, '<doc><a>1</a><shared>json</shared></doc>');
  });

  test('malformed XML from the backend is a backend failure', async () => {
    const r = await get(`${gw.url}/broken`);
    assert.equal(r.status, 500);
    assert.equal(r.headers.get('x-krakend-completed'), 'false');
  });
});
