// What an MCP tool's answer becomes for the code (sdk/mcp/results.ts), block kind by block kind. Pure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapMcpAnswer } from 'runbox/sdk';

describe('mapMcpAnswer', () => {
  it('prefers structuredContent over the content blocks', () => {
    assert.deepEqual(mapMcpAnswer({ structuredContent: { n: 1 }, content: [{ type: 'text', text: '{"n": 1}' }] }), { ok: true, value: { n: 1 } });
  });

  it('gives one block as its value, text as it is (JSON-looking text too), and no block as null', () => {
    assert.deepEqual(mapMcpAnswer({ content: [{ type: 'text', text: '42' }] }), { ok: true, value: '42' });
    assert.deepEqual(mapMcpAnswer({ content: [] }), { ok: true, value: null });
    assert.deepEqual(mapMcpAnswer({ toolResult: { legacy: true } }), { ok: true, value: { legacy: true } });
  });

  it('gives several blocks as a list: images, audio, resources and links as objects', () => {
    const answer = {
      content: [
        { type: 'text', text: 'here', annotations: { priority: 1 } },
        { type: 'image', mimeType: 'image/png', data: 'iVBO', _meta: { x: 1 } },
        { type: 'audio', mimeType: 'audio/wav', data: 'UklG' },
        { type: 'resource', resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'a' } },
        { type: 'resource', resource: { uri: 'file:///b.bin', mimeType: 'application/octet-stream', blob: 'AAE=' } },
        { type: 'resource_link', uri: 'file:///c', name: 'c', description: 'the c file' },
      ],
    };
    assert.deepEqual(mapMcpAnswer(answer), {
      ok: true,
      value: [
        'here',
        { type: 'image', mimeType: 'image/png', data: 'iVBO' },
        { type: 'audio', mimeType: 'audio/wav', data: 'UklG' },
        { type: 'resource', uri: 'file:///a.txt', mimeType: 'text/plain', text: 'a' },
        { type: 'resource', uri: 'file:///b.bin', mimeType: 'application/octet-stream', blob: 'AAE=' },
        { type: 'resource_link', uri: 'file:///c', name: 'c', description: 'the c file' },
      ],
    });
  });

  it('makes isError a failure with the text blocks joined, or a message saying there was none', () => {
    assert.deepEqual(mapMcpAnswer({ isError: true, content: [{ type: 'text', text: 'not found' }, { type: 'image', data: '', mimeType: 'image/png' }, { type: 'text', text: 'try again' }] }), { ok: false, message: 'not found\ntry again' });
    assert.deepEqual(mapMcpAnswer({ isError: true, content: [] }), { ok: false, message: 'the tool reported an error without a message' });
    assert.deepEqual(mapMcpAnswer({ isError: true, structuredContent: { n: 1 }, content: [{ type: 'text', text: 'bad' }] }), { ok: false, message: 'bad' });
  });
});
