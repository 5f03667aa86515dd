// The scripted model server is faithful enough for the real client libraries: they parse its answers (text and
// tool calls), send the key where it checks it, and see a refused key as their own authentication error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startModelServer, toolResultTexts, type ModelServer } from './model-server.js';

const KEY = 'sk-test-scripted';

describe('scripted model server', () => {
  let server: ModelServer;
  before(async () => {
    server = await startModelServer({
      apiKey: KEY,
      turns: [
        { toolCalls: [{ name: 'execute_code', input: { code: 'print(1)' } }, { name: 'execute_code', input: { code: 'print(2)' } }] },
        (request) => ({ text: `read: ${toolResultTexts(request).join(' | ')}` }),
        { toolCalls: [{ name: 'execute_code', input: { code: 'print(3)' } }] },
        (request) => ({ text: `read: ${toolResultTexts(request).join(' | ')}` }),
      ],
    });
  });
  after(() => server.close());

  test('the openai client parses tool calls and text, and sends the bearer key', async () => {
    const openai = new OpenAI({ apiKey: KEY, baseURL: server.openaiBaseURL, maxRetries: 0 });
    const first = await openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'go' }] });
    const calls = first.choices[0].message.tool_calls ?? [];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(calls.map((call) => call.type === 'function' && JSON.parse(call.function.arguments)), [{ code: 'print(1)' }, { code: 'print(2)' }]);
    const second = await openai.chat.completions.create({
      model: 'gpt-test',
      messages: [
        { role: 'user', content: 'go' },
        first.choices[0].message,
        ...calls.map((call, index) => ({ role: 'tool' as const, tool_call_id: call.id, content: `out ${index}` })),
      ],
    });
    assert.equal(second.choices[0].message.content, 'read: out 0 | out 1');
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(server.requests.at(-1)?.path, '/v1/chat/completions');
    assert.equal(server.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
  });

  test('the anthropic client parses tool_use blocks and text, and sends its key and API version', async () => {
    const anthropic = new Anthropic({ apiKey: KEY, baseURL: server.anthropicBaseURL, maxRetries: 0 });
    const first = await anthropic.messages.create({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((block) => block.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use');
    assert.deepEqual(use.input, { code: 'print(3)' });
    const second = await anthropic.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'out 3' }] }] },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.deepEqual(second.content, [{ type: 'text', text: 'read: out 3' }]);
    assert.equal(server.requests.at(-1)?.path, '/v1/messages');
    const { headers } = server.requests.at(-1)!;
    assert.ok(headers.authorization === `Bearer ${KEY}` || headers['x-api-key'] === KEY, 'the key is sent');
    assert.match(String(headers['anthropic-version']), /^\d{4}-\d{2}-\d{2}$/);
  });

  test('a wrong key is refused as each client reports an authentication error', async () => {
    const openai = new OpenAI({ apiKey: 'wrong', baseURL: server.openaiBaseURL, maxRetries: 0 });
    await assert.rejects(openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'go' }] }), OpenAI.AuthenticationError);
    const anthropic = new Anthropic({ apiKey: 'wrong', baseURL: server.anthropicBaseURL, maxRetries: 0 });
    await assert.rejects(anthropic.messages.create({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'go' }] }), Anthropic.AuthenticationError);
  });

  test('a request past the script is a server error, not a made-up answer', async () => {
    const openai = new OpenAI({ apiKey: KEY, baseURL: server.openaiBaseURL, maxRetries: 0 });
    await assert.rejects(openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'go' }] }), OpenAI.InternalServerError);
  });
});
