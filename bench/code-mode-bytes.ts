// Prints, for the agent examples' sales workload, the bytes of tool data handled inside the sandbox against the
// bytes the model receives from the code tool, next to classic tool calling (the model receiving every tool
// result itself) measured from the same run's results. Numbers only: nothing here passes or fails.
//   npm run bench:bytes
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { RunboxClient, createCodeTool, runAnthropicToolUse, runOpenAIToolCall, type ToolCallContext, type ToolSet } from 'runbox/sdk';
import { loadConfig } from '../daemon/config.js';
import { createDaemon } from '../daemon/server.js';
import { SALES_PYTHON_CODE } from '../examples/agent-sample-code.js';
import { ROWS_PER_REGION, SALES_REGIONS, createSalesTools } from '../examples/agent-tools.js';

const bytes = (count: number) => `${count.toLocaleString('en-US')} B`;
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

// The tools with each handler's result also recorded as the tool message classic tool calling would send.
function recordingClassicMessages(tools: ToolSet, messages: unknown[]): ToolSet {
  return Object.fromEntries(Object.entries(tools).map(([name, tool]) => [name, {
    ...tool,
    handler: async (args: unknown, context: ToolCallContext) => {
      const result = await tool.handler(args, context);
      messages.push({ role: 'tool', tool_call_id: `call_${messages.length}`, content: JSON.stringify(result) });
      return result;
    },
  }]));
}

async function main(): Promise<void> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-bytes-'));
  const config = loadConfig(process.env, [], { port: 0, workDir, logLevel: 'silent' });
  const daemon = await createDaemon(config, { logger: pino({ level: 'silent' }) });
  const { port } = await daemon.listen();
  const client = new RunboxClient({ url: `http://127.0.0.1:${port}` });
  try {
    const { tools, ledger } = createSalesTools({ delayMs: 0 });
    const classicMessages: unknown[] = [];
    const codeTool = createCodeTool(client, { tools: recordingClassicMessages(tools, classicMessages) });
    const started = performance.now();
    const output = await codeTool.run({ code: SALES_PYTHON_CODE });
    const elapsedMs = performance.now() - started;
    if (output.isError || output.result?.status !== 'ok') throw new Error(`the workload failed: ${output.text.slice(0, 2000)}`);
    const results = [...ledger.resultBytes];
    const classic = classicMessages.splice(0);
    // The same answer as each API's adapter sends it back to the model (this runs the code again).
    const openai = await runOpenAIToolCall(codeTool, { id: 'call_bench', type: 'function', function: { name: codeTool.name, arguments: JSON.stringify({ code: SALES_PYTHON_CODE }) } });
    const anthropic = await runAnthropicToolUse(codeTool, { id: 'toolu_bench', name: codeTool.name, input: { code: SALES_PYTHON_CODE } });

    const inside = results.reduce((sum, size) => sum + size, 0);
    const text = Buffer.byteLength(output.text);
    const images = output.attachments.reduce((sum, file) => sum + Buffer.byteLength(file.content.toString('base64')), 0);
    const codeMode = text + images;
    const row = (label: string, count: number, note: string) => console.log(`  ${label.padEnd(40)} ${bytes(count).padStart(11)}  ${note}`);

    console.log(`runbox bench: code mode bytes, node ${process.version}`);
    console.log(`workload: ${SALES_REGIONS.length} regions x ${ROWS_PER_REGION} order lines; list_regions + ${results.length - 1} get_sales gathered, totals by region and month, chart.png (${Math.round(elapsedMs)} ms)\n`);
    row('tool data handled inside the sandbox', inside, `${results.length} tool results (JSON)`);
    row('the model receives, code mode', codeMode, `result text ${bytes(text)} + ${output.attachments.length} PNG ${bytes(images)} (base64)`);
    row('  as OpenAI messages (JSON)', jsonBytes(openai.messages), 'tool message + user message with the image_url');
    row('  as an Anthropic tool_result (JSON)', jsonBytes(anthropic.block), 'text and image blocks');
    row('the model receives, classic tool calls', inside, `baseline: every tool result itself, as the handlers returned it`);
    row('  as OpenAI tool messages (JSON)', jsonBytes(classic), `${classic.length} tool messages`);
    console.log(`\n  classic / code mode: ${(inside / codeMode).toFixed(1)}x the bytes (text alone: ${Math.round(inside / text)}x); as OpenAI messages: ${(jsonBytes(classic) / jsonBytes(openai.messages)).toFixed(1)}x`);
    console.log('  (code mode sends the chart in place of the rows; classic tool calling sends no chart at all)');
  } finally {
    await client.close();
    await daemon.close();
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
