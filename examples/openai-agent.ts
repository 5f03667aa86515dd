// An agent loop on the OpenAI Chat Completions API with Runbox's code tool: the model writes code that fans out
// over the sales tools, aggregates and draws a chart; the loop runs every tool call in a sandbox and sends back
// the result text and the chart (as an image in a user message: tool messages cannot carry images).
//
//   npm start                                                   # in another terminal: the daemon
//   npm run build && OPENAI_API_KEY=sk-... node dist/examples/openai-agent.js
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { createCodeTool, type RunboxClient, runOpenAIToolCall, toOpenAITool, type CodeToolOutput, type Runtime, type ToolSet } from 'runbox/sdk';
import { AGENT_SYSTEM_PROMPT, SALES_TASK, createSalesTools } from './agent-tools.js';
import { runAsScript, type AgentRun } from './agent-run.js';

/** The model main() uses when OPENAI_MODEL is not set. */
export const DEFAULT_OPENAI_MODEL = 'gpt-5.5';

export interface OpenAIAgentOptions {
  /** The Runbox client the code tool runs code with. */
  client: RunboxClient;
  /** An OpenAI client (its baseURL may point at any server speaking Chat Completions). */
  openai: OpenAI;
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
   * Requests to the model before the loop gives up (an answer without tool calls ends it sooner).
   * @default 8
   */
  maxTurns?: number;
  /**
   * The system message.
   * @default AGENT_SYSTEM_PROMPT
   */
  system?: string;
  /**
   * Cancels the model requests and the running code.
   * @default undefined
   */
  signal?: AbortSignal;
}

// Runs the task to the model's final answer: each tool call of a turn through the code tool (all of them at
// once), their results and images appended, until the model answers without tool calls or maxTurns is reached.
export async function runOpenAIAgent(options: OpenAIAgentOptions): Promise<AgentRun<ChatCompletionMessageParam>> {
  const { client, openai, model, signal, maxTurns = 8 } = options;
  const codeTool = createCodeTool(client, { tools: options.tools ?? createSalesTools().tools, runtimes: options.runtimes });
  const transcript: ChatCompletionMessageParam[] = [
    { role: 'system', content: options.system ?? AGENT_SYSTEM_PROMPT },
    { role: 'user', content: options.task ?? SALES_TASK },
  ];
  const executions: CodeToolOutput[] = [];
  for (let turn = 1; turn <= maxTurns; turn++) {
    const completion = await openai.chat.completions.create({ model, messages: transcript, tools: [toOpenAITool(codeTool)] }, { signal });
    const message = completion.choices[0]?.message;
    if (message === undefined) throw new Error(`the model answered turn ${turn} without a choice`);
    const toolCalls = (message.tool_calls ?? []).filter((call) => call.type === 'function');
    transcript.push({ role: 'assistant', content: message.content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
    if (toolCalls.length === 0) return { text: message.content ?? '', stopReason: 'answered', turns: turn, transcript, executions };
    const runs = await Promise.all(toolCalls.map((call) => runOpenAIToolCall(codeTool, call, { signal })));
    executions.push(...runs.map((run) => run.output));
    // Every tool message answers its call right after the assistant message; the images follow them.
    const messages = runs.flatMap((run) => run.messages);
    transcript.push(...messages.filter((entry) => entry.role === 'tool'), ...messages.filter((entry) => entry.role !== 'tool'));
  }
  return { text: '', stopReason: 'max_turns', turns: maxTurns, transcript, executions };
}

// Runs the sales task against the real API (or OPENAI_BASE_URL), prints the answer and saves the charts here.
runAsScript(import.meta.url, (client) => {
  const apiKey = process.env.OPENAI_API_KEY;
  if (!apiKey) throw new Error('OPENAI_API_KEY is not set: export your OpenAI API key to run this example');
  const openai = new OpenAI({ apiKey, baseURL: process.env.OPENAI_BASE_URL || undefined });
  return runOpenAIAgent({ client, openai, model: process.env.OPENAI_MODEL || DEFAULT_OPENAI_MODEL });
});
