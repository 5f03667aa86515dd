import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectMimeType } from '../../daemon/files/mime.js';
import { checkWorkspacePath } from '../../daemon/files/paths.js';

test('workspace paths: accepted and normalized', () => {
  assert.deepEqual(checkWorkspacePath('data.csv'), { ok: true, path: 'data.csv' });
  assert.deepEqual(checkWorkspacePath('./out//a/chart.png'), { ok: true, path: 'out/a/chart.png' });
});

test('workspace paths: every rule has its own message', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['/etc/passwd', /absolute/],
    ['../x', /\.\./],
    ['a/../../x', /\.\./],
    ['a\0b', /NUL/],
    ['', /empty/],
    ['.', /workspace itself/],
    ['a\\b', /backslash/],
    ['x'.repeat(300), /longer than 255/],
    ['a/'.repeat(600), /longer than 1024/],
    [42, /expected a string/],
  ];
  for (const [value, message] of cases) {
    const checked = checkWorkspacePath(value);
    assert.equal(checked.ok, false, String(value));
    if (!checked.ok) assert.match(checked.message, message);
  }
});

test('MIME types: by extension, by magic bytes, text, or octet-stream', () => {
  assert.equal(detectMimeType('chart.png', new Uint8Array()), 'image/png');
  assert.equal(detectMimeType('out.csv', new Uint8Array()), 'text/csv');
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
  assert.equal(detectMimeType('chart', png), 'image/png');
  assert.equal(detectMimeType('notes.unknownext', Buffer.from('hello wörld\n')), 'text/plain');
  assert.equal(detectMimeType('blob', Uint8Array.from([0, 1, 2, 255])), 'application/octet-stream');
});
