// The OpenAI and Anthropic agent examples, whole: their loops with the real client libraries against a scripted
// model on loopback, a real daemon and real sandboxes. The scripted model sends the code a model would write for
// the sales task, then answers from what the loop sent back; the test checks the totals and the chart the model
// received against the same data computed here, the tool calls the code made, and the final answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { RunboxClient, type ToolDefinition } from 'runbox/sdk';
import { runAnthropicAgent } from '../../examples/anthropic-agent.js';
import { SALES_NODE_CODE, SALES_PYTHON_CODE } from '../../examples/agent-sample-code.js';
import { SALES_REGIONS, SALES_TASK, createSalesTools, expectedSalesTotals, type SalesTotals } from '../../examples/agent-tools.js';
import { runOpenAIAgent } from '../../examples/openai-agent.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, toolResultTexts, type ModelServer, type RecordedRequest, type ScriptedTurn } from '../helpers/model-server.js';

const KEY = 'sk-scripted-test-key';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Long enough that calls made in parallel overlap in the handlers even on a loaded machine. */
const TOOL_DELAY_MS = 200;

// The totals in a tool result's text: the code tool's answer has the result's JSON on the line after `result:`.
function totalsIn(text: string): SalesTotals {
  const match = /^result:\n(.*)$/m.exec(text);
  assert.ok(match, `no result in the tool result: ${text.slice(0, 500)}`);
  return JSON.parse(match[1]);
}

// The region with the most revenue, and that revenue.
function bestRegion(totals: SalesTotals): [string, number] {
  const sums = Object.entries(totals).map(([region, months]) => [region, Object.values(months).reduce((a, b) => a + b, 0)] as [string, number]);
  return sums.sort((a, b) => b[1] - a[1])[0];
}

// The scripted model's final turn: it names the best region from the totals it was sent, as a model would.
const answerFromTotals: ScriptedTurn = (request) => {
  const [region, revenue] = bestRegion(totalsIn(toolResultTexts(request)[0]));
  return { text: `${region} sold the most: ${revenue} in total.` };
};

const [EXPECTED_REGION, EXPECTED_REVENUE] = bestRegion(expectedSalesTotals());
const EXPECTED_ANSWER = `${EXPECTED_REGION} sold the most: ${EXPECTED_REVENUE} in total.`;

// The bytes of a base64 PNG, checked to be one.
function assertPng(base64: string): Buffer {
  const bytes = Buffer.from(base64, 'base64');
  assert.ok(bytes.length > 1000, `a chart of ${bytes.length} bytes`);
  assert.deepEqual(bytes.subarray(0, 8), PNG_MAGIC, 'the image is a PNG');
  return bytes;
}

// A tool whose calls return once two of them are waiting (true), or alone after 10 s (false: well within the
// execution timeout, so a program run alone still finishes); each outcome is pushed to meetings.
function twoPartyRendezvous(meetings: boolean[]): ToolDefinition {
  const waiting: (() => void)[] = [];
  return {
    description: 'Waits for the other program.',
    handler: () =>
      new Promise<boolean>((resolve) => {
        const alone = setTimeout(() => {
          meetings.push(false);
          resolve(false);
        }, 10_000);
        waiting.push(() => {
          clearTimeout(alone);
          meetings.push(true);
          resolve(true);
        });
        if (waiting.length === 2) for (const release of waiting.splice(0)) release();
      }),
  };
}

describe('agent examples against a scripted model', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  let server: ModelServer | undefined;
  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
  });
  after(async () => {
    await client.close();
    await daemon.close();
  });
  const serve = async (turns: ScriptedTurn[]) => {
    await server?.close();
    server = await startModelServer({ apiKey: KEY, turns });
    return server;
  };
  after(() => server?.close());

  test('OpenAI: the code fans out, the model gets the totals and the chart as an image_url, and answers', async () => {
    const model = await serve([{ toolCalls: [{ name: 'execute_code', input: { code: SALES_PYTHON_CODE } }] }, answerFromTotals]);
    const { tools, ledger } = createSalesTools({ delayMs: TOOL_DELAY_MS });
    const openai = new OpenAI({ apiKey: KEY, baseURL: model.openaiBaseURL, maxRetries: 0 });
    const run = await runOpenAIAgent({ client, openai, model: 'gpt-scripted', tools, maxTurns: 4 });

    assert.equal(run.stopReason, 'answered');
    assert.equal(run.text, EXPECTED_ANSWER);
    assert.equal(run.turns, 2);
    assert.equal(model.requests.length, 2);
    const [first, second] = model.requests as [RecordedRequest, RecordedRequest];
    assert.equal(first.body.model, 'gpt-scripted');
    assert.deepEqual(first.body.tools.map((tool: any) => [tool.type, tool.function.name]), [['function', 'execute_code']]);
    assert.equal(first.body.messages.at(-1).content, SALES_TASK);

    assert.deepEqual(totalsIn(toolResultTexts(second)[0]), expectedSalesTotals(), 'the model received the totals the sandbox computed');
    const messages = second.body.messages as any[];
    const assistant = messages.findIndex((message) => message.role === 'assistant');
    const toolMessage = messages[assistant + 1];
    assert.equal(toolMessage.role, 'tool');
    assert.equal(toolMessage.tool_call_id, messages[assistant].tool_calls[0].id);
    const imagePart = messages.slice(assistant + 2).flatMap((message) => (message.role === 'user' && Array.isArray(message.content) ? message.content : [])).find((part: any) => part.type === 'image_url');
    assert.ok(imagePart, 'a user message after the tool message carries the chart');
    const match = /^data:image\/png;base64,(.+)$/.exec(imagePart.image_url.url);
    assert.ok(match, 'the image is a PNG data URL');
    assert.deepEqual(assertPng(match[1]), run.executions[0].attachments[0].content, 'the chart the model got is the file the code saved');

    assert.deepEqual(ledger.calls, { list_regions: 1, get_sales: SALES_REGIONS.length });
    assert.equal(ledger.maxInFlight, SALES_REGIONS.length, 'every get_sales call was in flight at once (asyncio.gather)');
    assert.equal(run.executions.length, 1);
    assert.equal(run.executions[0].isError, false);
    assert.equal(run.executions[0].result?.status, 'ok');
    assert.deepEqual(run.executions[0].result?.result, expectedSalesTotals());
  });

  test('Anthropic: the code fans out, the model gets a tool_result with the totals and the chart as an image block', async () => {
    const model = await serve([{ toolCalls: [{ name: 'execute_code', input: { code: SALES_PYTHON_CODE } }] }, answerFromTotals]);
    const { tools, ledger } = createSalesTools({ delayMs: TOOL_DELAY_MS });
    const anthropic = new Anthropic({ apiKey: KEY, baseURL: model.anthropicBaseURL, maxRetries: 0 });
    const run = await runAnthropicAgent({ client, anthropic, model: 'claude-scripted', tools, maxTurns: 4 });

    assert.equal(run.stopReason, 'answered');
    assert.equal(run.text, EXPECTED_ANSWER);
    assert.equal(model.requests.length, 2);
    const [first, second] = model.requests as [RecordedRequest, RecordedRequest];
    assert.deepEqual(first.body.tools.map((tool: any) => [tool.name, tool.input_schema.type]), [['execute_code', 'object']]);
    assert.equal(typeof first.body.system, 'string');
    assert.equal(first.body.messages[0].content, SALES_TASK);

    assert.deepEqual(totalsIn(toolResultTexts(second)[0]), expectedSalesTotals(), 'the model received the totals the sandbox computed');
    const messages = second.body.messages as any[];
    const use = messages[1].content.find((block: any) => block.type === 'tool_use');
    const result = messages[2].content.find((block: any) => block.type === 'tool_result');
    assert.equal(messages[2].role, 'user');
    assert.equal(result.tool_use_id, use.id);
    assert.notEqual(result.is_error, true);
    const image = result.content.find((block: any) => block.type === 'image');
    assert.ok(image, 'the tool_result holds an image block');
    assert.equal(image.source.type, 'base64');
    assert.equal(image.source.media_type, 'image/png');
    assertPng(image.source.data);

    assert.deepEqual(ledger.calls, { list_regions: 1, get_sales: SALES_REGIONS.length });
    assert.equal(ledger.maxInFlight, SALES_REGIONS.length, 'every get_sales call was in flight at once (asyncio.gather)');
    assert.equal(run.executions[0].result?.status, 'ok');
  });

  test('several tool calls in one turn run at once, a Node one among them, and each gets its answer', async () => {
    // Each program first waits at a rendezvous that opens only once both have reached it: run one after the
    // other, the first would wait alone until the rendezvous gave up.
    const model = await serve([
      {
        toolCalls: [
          { name: 'execute_code', input: { code: `met = await rendezvous()\n${SALES_PYTHON_CODE}` } },
          { name: 'execute_code', input: { code: `const met = await rendezvous();\n${SALES_NODE_CODE}`, runtime: 'node' } },
        ],
      },
      (request) => {
        const texts = toolResultTexts(request);
        assert.equal(texts.length, 2);
        assert.deepEqual(totalsIn(texts[1]), totalsIn(texts[0]), 'Node and Python computed the same totals');
        return answerFromTotals(request) as { text: string };
      },
    ]);
    const { tools, ledger } = createSalesTools({ delayMs: 0 });
    const meetings: boolean[] = [];
    const rendezvous = twoPartyRendezvous(meetings);
    const openai = new OpenAI({ apiKey: KEY, baseURL: model.openaiBaseURL, maxRetries: 0 });
    const run = await runOpenAIAgent({ client, openai, model: 'gpt-scripted', tools: { ...tools, rendezvous }, runtimes: ['python', 'node'] });

    assert.equal(run.text, EXPECTED_ANSWER);
    assert.deepEqual(meetings, [true, true], 'both executions were running at the same time');
    assert.deepEqual(run.executions.map((execution) => execution.result?.status), ['ok', 'ok']);
    assert.deepEqual(run.executions[1].result?.result, expectedSalesTotals());
    assert.deepEqual(ledger.calls, { list_regions: 2, get_sales: 2 * SALES_REGIONS.length });
    const messages = model.requests[1].body.messages as any[];
    const ids = messages.find((message) => message.role === 'assistant').tool_calls.map((call: any) => call.id);
    assert.deepEqual(messages.filter((message) => message.role === 'tool').map((message) => message.tool_call_id), ids, 'one tool message per call, in order');
  });

  test('a model that keeps calling tools is stopped at maxTurns', async () => {
    const again = { toolCalls: [{ name: 'execute_code', input: { code: 'set_result(1)' } }] };
    const model = await serve([again, again, again]);
    const anthropic = new Anthropic({ apiKey: KEY, baseURL: model.anthropicBaseURL, maxRetries: 0 });
    const run = await runAnthropicAgent({ client, anthropic, model: 'claude-scripted', tools: createSalesTools().tools, maxTurns: 2 });
    assert.equal(run.stopReason, 'max_turns');
    assert.equal(run.text, '');
    assert.equal(model.requests.length, 2);
    assert.equal(run.executions.length, 2);
  });
});
