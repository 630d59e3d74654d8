// The repository's documents hold together: every relative link in README.md and docs/*.md names
// a file that exists and, with a #fragment, a heading that file has (GitHub's anchors: lower
// case, punctuation dropped, spaces as hyphens); the README stays short.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/gateway.mjs';

const documents = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];

/** GitHub's anchor of a heading. */
function anchorOf(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file) {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1])));
}

/** [text](target) links outside code blocks and spans. */
function linksOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

test('every relative link in README.md and docs/ resolves, anchors included', () => {
  const broken = [];
  let checked = 0;
  for (const file of documents) {
    for (const link of linksOf(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
      checked++;
      const [path, fragment] = link.split('#');
      const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${relative(ROOT, file)}: ${link} (no such file)`);
        continue;
      }
      if (
        fragment !== undefined &&
        statSync(target).isFile() &&
        target.endsWith('.md') &&
        !anchorsOf(target).has(fragment)
      )
        broken.push(`${relative(ROOT, file)}: ${link} (no such heading)`);
    }
  }
  assert.ok(checked > 10, `${checked} links checked`);
  assert.deepEqual(broken, []);
});

test('the README is a user’s page: at most 300 lines, no lab-log references', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.split('\n').length <= 300, `${readme.split('\n').length} lines`);
  for (const file of documents) {
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /\b(issue|session|period) #?\d+\b/i, relative(ROOT, file));
    assert.doesNotMatch(text, /\bDESIGN\.md\b/, relative(ROOT, file));
    assert.doesNotMatch(text, /\b[0-9a-f]{40}\b/, `${relative(ROOT, file)}: a commit hash`);
  }
});
