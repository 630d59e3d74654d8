// The documents the backend serves: deterministic, so that every run measures the same bytes.

/** A user-profile-like JSON object of about `size` bytes. */
function profile(id, size) {
  const doc = {
    id,
    name: 'Leanne Graham',
    username: 'Bret',
    email: 'Sincere@april.biz',
    address: {
      street: 'Kulas Light',
      suite: 'Apt. 556',
      city: 'Gwenborough',
      zipcode: '92998-3874',
      geo: { lat: '-37.3159', lng: '81.1496' },
    },
    phone: '1-770-736-8031 x56442',
    website: 'hildegard.org',
    company: {
      name: 'Romaguera-Crona',
      catchPhrase: 'Multi-layered client-server neural-net',
      bs: 'harness real-time e-markets',
    },
    tags: ['alpha', 'beta', 'gamma', 'delta'],
    active: true,
    score: 98.6,
    posts: [
      { id: 1, title: 'sunt aut facere repellat provident', likes: 12 },
      { id: 2, title: 'qui est esse', likes: 7 },
      { id: 3, title: 'ea molestias quasi exercitationem', likes: 31 },
    ],
    bio: '',
  };
  const base = JSON.stringify(doc).length;
  doc.bio = 'lorem ipsum dolor sit amet '
    .repeat(Math.ceil(Math.max(0, size - base) / 27))
    .slice(0, Math.max(0, size - base));
  return doc;
}

/** 1.4 KB: the document of the no-op and merged scenarios. */
export const DATA_JSON = JSON.stringify(profile(1, 1400));
/** The second backend of the merged scenario. */
export const SECOND_JSON = JSON.stringify(profile(2, 1400));

/** About 256 KB: the large-body scenario. */
export const LARGE_JSON = (() => {
  const items = [];
  let length = 12;
  for (let i = 0; length < 256 * 1024 - 1500; i++) {
    const item = profile(i, 1400);
    length += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return JSON.stringify({ count: items.length, items });
})();

export const DOCUMENTS = {
  'data.json': DATA_JSON,
  'b.json': SECOND_JSON,
  'large.json': LARGE_JSON,
};
