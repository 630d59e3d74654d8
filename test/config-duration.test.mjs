import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration, parseGoDuration } from '../dist/config/index.js';

test('parseDuration reads Go durations as milliseconds', () => {
  const cases = {
    '300ms': 300,
    '1.5s': 1500,
    '1m30s': 90_000,
    '2h': 7_200_000,
    '100us': 0.1,
    '100µs': 0.1,
    '100μs': 0.1,
    '10ns': 0.00001,
    0: 0,
    '0s': 0,
    '+3s': 3000,
    '.5s': 500,
    '5.s': 5000,
    '1h2m3s4ms': 3_723_004,
    '3s300ms': 3300,
  };
  for (const [input, ms] of Object.entries(cases)) {
    const got = parseDuration(input);
    assert.ok(got !== undefined && Math.abs(got - ms) < 1e-9, `${input} → ${got}, expected ${ms}`);
  }
});

test('parseDuration refuses empty, negative, unitless and garbage input', () => {
  for (const input of [
    '',
    '-1s',
    '-300ms',
    '3',
    '300',
    's',
    '.s',
    '3 s',
    ' 3s',
    '3s ',
    '3sec',
    '3S',
    '1.2.3s',
    '3s2',
    'abc',
    '1d',
    '--1s',
    '1e3s',
  ]) {
    assert.equal(parseDuration(input), undefined, JSON.stringify(input));
  }
  assert.equal(parseDuration(undefined), undefined);
  assert.equal(parseDuration(3000), undefined);
});

// Go's time.ParseDuration itself (security/cors max_age, where rs/cors writes a negative as 0):
// signed, and no white space around it.
test('parseGoDuration reads signed Go durations; the same refusals otherwise', () => {
  const cases = { '-1s': -1000, '-1.5h': -5_400_000, '+2m': 120_000, '-0': 0, '+0': 0, '12h': 43_200_000 };
  for (const [input, ms] of Object.entries(cases)) assert.equal(parseGoDuration(input), ms, input);
  for (const input of ['', '-', '+', '--1s', '-+1s', ' 1h', '1h ', '-3', '1d', '-s'])
    assert.equal(parseGoDuration(input), undefined, JSON.stringify(input));
});

test('formatDuration prints like Go', () => {
  assert.equal(formatDuration(3000), '3s');
  assert.equal(formatDuration(60_000), '1m0s');
  assert.equal(formatDuration(3_600_000), '1h0m0s');
  assert.equal(formatDuration(90_500), '1m30.5s');
  assert.equal(formatDuration(300), '300ms');
  assert.equal(formatDuration(0), '0s');
});
