// An agent loop on the Anthropic Messages API with Runbox's code tool: the model writes code that fans out over
// the sales tools, aggregates and draws a chart; the loop runs every tool_use block in a sandbox and answers with
// tool_result blocks carrying the result text and the chart as an image block.
//
//   npm start                                                   # in another terminal: the daemon
//   npm run build && ANTHROPIC_API_KEY=sk-ant-... node dist/examples/anthropic-agent.js
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { createCodeTool, type RunboxClient, runAnthropicToolUse, toAnthropicTool, type CodeToolOutput, type Runtime, type ToolSet } from 'runbox/sdk';
import { AGENT_SYSTEM_PROMPT, SALES_TASK, createSalesTools } from './agent-tools.js';
import { runAsScript, type AgentRun } from './agent-run.js';

/** The model main() uses when ANTHROPIC_MODEL is not set. */
export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-5-5';

export interface AnthropicAgentOptions {
  /** The Runbox client the code tool runs code with. */
  client: RunboxClient;
  /** An Anthropic client (its baseURL may point at any server speaking Messages). */
  anthropic: Anthropic;
  /** The model name sent with every request. */
  model: string;
  /**
   * What the user asks.
   * @default SALES_TASK
   */
  task?: string;
  /**
   * The tools the model's code may call.
   * @default the sales tools of createSalesTools()
   */
  tools?: ToolSet;
  /**
   * The languages the model may write (the code tool's input has a `runtime` when there are several).
   * @default ['python']
   */
  runtimes?: Runtime[];
  /**
   * Requests to the model before the loop gives up (an answer without tool use ends it sooner).
   * @default 8
   */
  maxTurns?: number;
  /**
   * The most tokens the model may write per answer.
   * @default 4096
   */
  maxTokens?: number;
  /**
   * The system prompt.
   * @default AGENT_SYSTEM_PROMPT
   */
  system?: string;
  /**
   * Cancels the model requests and the running code.
   * @default undefined
   */
  signal?: AbortSignal;
}

// Runs the task to the model's final answer: every tool_use block of a turn through the code tool (all at once),
// answered in one user message of tool_result blocks, until the model stops without tool use or maxTurns.
export async function runAnthropicAgent(options: AnthropicAgentOptions): Promise<AgentRun<MessageParam>> {
  const { client, anthropic, model, signal, maxTurns = 8, maxTokens = 4096 } = options;
  const codeTool = createCodeTool(client, { tools: options.tools ?? createSalesTools().tools, runtimes: options.runtimes });
  const system = options.system ?? AGENT_SYSTEM_PROMPT;
  const transcript: MessageParam[] = [{ role: 'user', content: options.task ?? SALES_TASK }];
  const executions: CodeToolOutput[] = [];
  for (let turn = 1; turn <= maxTurns; turn++) {
    const response = await anthropic.messages.create(
      { model, max_tokens: maxTokens, system, tools: [toAnthropicTool(codeTool)], messages: transcript },
      { signal },
    );
    transcript.push({ role: 'assistant', content: response.content });
    const uses = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
    if (uses.length === 0) {
      const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
      return { text, stopReason: 'answered', turns: turn, transcript, executions };
    }
    const runs = await Promise.all(uses.map((use) => runAnthropicToolUse(codeTool, use, { signal })));
    executions.push(...runs.map((run) => run.output));
    transcript.push({ role: 'user', content: runs.map((run) => run.block) });
  }
  return { text: '', stopReason: 'max_turns', turns: maxTurns, transcript, executions };
}

// Runs the sales task against the real API (or ANTHROPIC_BASE_URL), prints the answer and saves the charts here.
runAsScript(import.meta.url, (client) => {
  const apiKey = process.env.ANTHROPIC_API_KEY;
  if (!apiKey) throw new Error('ANTHROPIC_API_KEY is not set: export your Anthropic API key to run this example');
  const anthropic = new Anthropic({ apiKey, baseURL: process.env.ANTHROPIC_BASE_URL || undefined });
  return runAnthropicAgent({ client, anthropic, model: process.env.ANTHROPIC_MODEL || DEFAULT_ANTHROPIC_MODEL });
});
