import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectMimeType } from '../../daemon/files/mime.js';
import { checkWorkspacePath, checkWorkspacePathBytes, decodePercentPath, wirePath } from '../../daemon/files/paths.js';

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

test('file API paths as bytes: percent-decoded, names that are not UTF-8 allowed, the same rules', () => {
  assert.deepEqual(decodePercentPath('a%20b/%FF.txt'), Buffer.from([0x61, 0x20, 0x62, 0x2f, 0xff, 0x2e, 0x74, 0x78, 0x74]));
  assert.deepEqual(decodePercentPath('caf%C3%A9/é'), Buffer.from('café/é'));
  for (const bad of ['%', '%F', '%ZZ', 'a%2', '%E0%A4%A']) assert.equal(decodePercentPath(bad), null, bad);
  const utf8 = checkWorkspacePathBytes(Buffer.from('./out//ü.csv'));
  assert.ok(utf8.ok);
  assert.deepEqual([utf8.path, utf8.escaped], ['out/ü.csv', false]);
  const raw = checkWorkspacePathBytes(Buffer.from([0x64, 0x2f, 0x2f, 0xff, 0x25]));
  assert.ok(raw.ok);
  assert.deepEqual([raw.path, raw.escaped, raw.segments], ['d/%FF%25', true, [Buffer.from('d'), Buffer.from([0xff, 0x25])]]);
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from([0xff, 0x2f, 0x2e, 0x2e, 0x2f, 0x78]), /\.\./],
    [Buffer.from([0x2f, 0xff]), /absolute/],
    [Buffer.from([0xff, 0x00]), /NUL/],
    [Buffer.from([0xff, 0x5c]), /backslash/],
    [Buffer.alloc(256, 0xff), /longer than 255/],
    [Buffer.concat(Array.from({ length: 600 }, () => Buffer.from([0xfe, 0x2f]))), /longer than 1024/],
  ];
  for (const [bytes, message] of cases) {
    const checked = checkWorkspacePathBytes(bytes);
    assert.equal(checked.ok, false, bytes.toString('hex'));
    if (!checked.ok) assert.match(checked.message, message);
  }
});

test('wire paths: UTF-8 names as they are; otherwise every name percent-encoded, reversibly', () => {
  assert.deepEqual(wirePath([Buffer.from('out'), Buffer.from('100% ü.txt')]), { path: 'out/100% ü.txt', escaped: false });
  const escaped = wirePath([Buffer.from('ü d'), Buffer.from([0xff, 0x25, 0x41])]);
  assert.deepEqual(escaped, { path: '%C3%BC%20d/%FF%25A', escaped: true });
  assert.equal(escaped.path.split('/')[0], encodeURIComponent('ü d'), 'what encodeURIComponent gives for UTF-8 text');
  const back = checkWorkspacePathBytes(decodePercentPath(escaped.path) as Buffer);
  assert.ok(back.ok);
  assert.deepEqual(back.segments, [Buffer.from('ü d'), Buffer.from([0xff, 0x25, 0x41])]);
});

test('MIME types: by extension, by magic bytes, text, or octet-stream', () => {
  assert.equal(detectMimeType('chart.png', new Uint8Array()), 'image/png');
  assert.equal(detectMimeType('out.csv', new Uint8Array()), 'text/csv');
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
  assert.equal(detectMimeType('chart', png), 'image/png');
  assert.equal(detectMimeType('notes.unknownext', Buffer.from('hello wörld\n')), 'text/plain');
  assert.equal(detectMimeType('blob', Uint8Array.from([0, 1, 2, 255])), 'application/octet-stream');
});
