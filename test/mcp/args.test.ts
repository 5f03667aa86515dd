// The pure parts of Runbox's MCP server: `runbox mcp`'s arguments, and how files become MCP content.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMcpArgs } from '../../daemon/mcp/args.js';
import { ConfigError } from '../../daemon/config.js';
import { fileContent, readFileAnswer } from '../../sdk/mcp/server-content.js';

test('runbox mcp: flags over the environment, defaults otherwise', () => {
  assert.deepEqual(parseMcpArgs([], {}), { url: 'http://127.0.0.1:9000', token: undefined, runtimes: ['python', 'node'], mcpConfig: undefined, help: false });
  const env = { RUNBOX_URL: 'http://10.0.0.2:9000', RUNBOX_TOKEN: 't0ken' };
  assert.deepEqual(parseMcpArgs([], env), { url: 'http://10.0.0.2:9000', token: 't0ken', runtimes: ['python', 'node'], mcpConfig: undefined, help: false });
  assert.deepEqual(
    parseMcpArgs(['--url', 'http://127.0.0.1:1', '--runtimes', 'node', '--mcp-config', 'servers.json'], env),
    { url: 'http://127.0.0.1:1', token: 't0ken', runtimes: ['node'], mcpConfig: 'servers.json', help: false },
  );
  assert.equal(parseMcpArgs(['-h'], {}).help, true);
});

test('runbox mcp: every bad argument is named at once', () => {
  assert.throws(() => parseMcpArgs(['--token', 'x', '--runtimes', 'python,python', '--url', 'ftp://x', '--nope', 'extra'], {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 5, error.message);
    assert.match(error.message, /--token: not a flag/);
    assert.match(error.message, /--nope: unknown option/);
    assert.match(error.message, /2 unexpected arguments: runbox mcp takes only the options/);
    assert.doesNotMatch(error.message, /"x"|extra/, 'a stray argument (the token, after --token) is never echoed');
    assert.match(error.message, /--url \(RUNBOX_URL\): expected an http\(s\):\/\/ URL, received "ftp:\/\/x"/);
    assert.match(error.message, /--runtimes: expected/);
    return true;
  });
  assert.throws(() => parseMcpArgs(['--url'], {}), /--url: expected a value after it/);
});

test('files as MCP content: images inline, text as text, other bytes as a blob', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
  assert.deepEqual(fileContent({ path: 'a.png', mimeType: 'image/png', content: png }, 'runbox://outputs/a.png'), { type: 'image', data: png.toString('base64'), mimeType: 'image/png' });
  assert.deepEqual(fileContent({ path: 'a b.csv', mimeType: 'text/csv', content: Buffer.from('x,y\n') }, 'runbox://outputs/a%20b.csv'), {
    type: 'resource', resource: { uri: 'runbox://outputs/a%20b.csv', mimeType: 'text/csv', text: 'x,y\n' },
  });
  // Declared text but not UTF-8: sent as bytes, never mangled.
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
  assert.deepEqual(fileContent({ path: 'l.txt', mimeType: 'text/plain', content: latin1 }, 'u'), { type: 'resource', resource: { uri: 'u', mimeType: 'text/plain', blob: latin1.toString('base64') } });
  assert.deepEqual(fileContent({ path: 'd.bin', mimeType: 'application/octet-stream', content: Buffer.from([0]) }, 'u'), { type: 'resource', resource: { uri: 'u', mimeType: 'application/octet-stream', blob: 'AA==' } });
  assert.deepEqual(readFileAnswer({ path: 'r.json', mimeType: 'application/json', content: Buffer.from('{"a":1}') }, 'u'), {
    content: [{ type: 'text', text: '{"a":1}' }], structuredContent: { path: 'r.json', mimeType: 'application/json', size: 7 },
  });
});
