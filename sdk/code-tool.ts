// createCodeTool: one client plus tools as one `execute_code` tool for a model (code mode): a name, a description
// with the rules and the tools' stubs, an input schema, and run(input), which executes the model's code and
// answers in compact text next to the full result. The adapters (sdk/adapters/) put it in each API's format.

import { PROTOCOL } from '../daemon/protocol.js';
import type { RunboxClient } from './client.js';
import { describeBadInput, describeExecution } from './code-tool/answer.js';
import { codeToolInputSchema, describeCodeTool } from './code-tool/describe.js';
import { resolveDiscovery, type DiscoveryOption } from './code-tool/discovery.js';
import { RunboxAPIError } from './errors.js';
import type { StubOptions } from './stubs/text.js';
import { renderToolStubs } from './stubs/tool-stubs.js';
import type { ExecuteOptions, ExecutionResult, InputFile, JsonSchema, OutputFile, Runtime, ToolSet } from './types.js';

/** What every execution of the code tool gets besides the model's code (the same options as execute()). */
export type CodeToolExecuteOptions = Omit<Partial<ExecuteOptions>, 'code' | 'runtime' | 'tools' | 'signal'>;

/** Options of createCodeTool(). */
export interface CodeToolOptions {
  /** The tools the code may call, by name (as for execute()). */
  tools: ToolSet;
  /**
   * The languages the model may write; the first is the default. With more than one, the input has a `runtime`.
   * @default ['python']
   */
  runtimes?: Runtime[];
  /**
   * The tool's name as the model sees it (1-64 of `[A-Za-z0-9_-]`, what the model APIs accept).
   * @default 'execute_code'
   */
  name?: string;
  /**
   * Text appended to the description after the rules (what the task is about, conventions of your tools).
   * @default ''
   */
  instructions?: string;
  /**
   * Options of every execution: `timeoutMs`, `sessionId` (keep a workspace across calls), `inputs`, `files`,
   * `onStdout`... Inputs are named in the description as variables the code can read.
   * @default {}
   */
  execute?: CodeToolExecuteOptions;
  /**
   * How much of the result's JSON the answer text keeps (the full result is in `output.result`).
   * @default 4000
   */
  maxResultChars?: number;
  /**
   * How much of stdout (and the traceback) the answer text keeps, its start and end (stderr: half of it).
   * @default 4000
   */
  maxOutputChars?: number;
  /**
   * Options of the stubs in the description.
   * @default {}
   */
  stubs?: StubOptions;
  /**
   * Progressive discovery: the description lists the tool groups (`github.*`...) and how to find tools from
   * code (`search_tools` / `describe_tool`, `searchTools` / `describeTool` in Node) instead of every tool's stub.
   * `'auto'` turns it on past 30 tools or 12 KB of stubs in any allowed runtime. Either way, every execution
   * sends each tool's stub, so describe_tool returns the same text the description would show.
   * @default 'auto'
   */
  discovery?: DiscoveryOption;
}

/** What the model sends: its program, and the language when more than one is allowed. */
export interface CodeToolInput {
  code: string;
  runtime?: Runtime;
}

/** One answer of the code tool. */
export interface CodeToolOutput {
  /** The full execution result; null when the input was refused before anything ran. */
  result: ExecutionResult | null;
  /** True unless the code ran to its end (`status: 'ok'`). */
  isError: boolean;
  /** The compact answer for the model: status, result, cut output, error and traceback, the list of files. */
  text: string;
  /** The files the code returned (images among them are shown to the model by the adapters). */
  attachments: OutputFile[];
}

/** Options of one run(). */
export interface CodeToolRunOptions {
  /**
   * Cancels the execution; run() then rejects with a RunboxAbortError, as execute() does.
   * @default undefined
   */
  signal?: AbortSignal;
  /**
   * Runs this call in a session's workspace (over `execute.sessionId`), e.g. one the model named (the MCP server's
   * execute_code).
   * @default execute.sessionId
   */
  sessionId?: string;
  /**
   * Input files of this call, written after `execute.files`.
   * @default []
   */
  files?: InputFile[];
}

/** A code tool: what to show the model, and run() for its calls. */
export interface CodeTool {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the input: `{code}`, plus `runtime` when more than one is allowed. */
  readonly inputSchema: JsonSchema;
  readonly runtimes: readonly Runtime[];
  /** Whether the description lists tool groups and discovery rules instead of every tool's stub. */
  readonly discovery: boolean;
  /**
   * Runs one call of the model. Bad input (no code, a runtime not allowed, code over the daemon's maxCodeBytes) is
   * an isError answer, never thrown; what the model cannot fix (no daemon, bad execute options, an abort) throws.
   */
  run(input: unknown, options?: CodeToolRunOptions): Promise<CodeToolOutput>;
}

export const DEFAULT_CODE_TOOL_NAME = 'execute_code';
export const DEFAULT_MAX_RESULT_CHARS = 4000;
export const DEFAULT_MAX_OUTPUT_CHARS = 4000;

/** Daemon refusals the model's code causes (code over maxCodeBytes): answered to the model, not thrown. Others
 * (invalid_request, limit_exceeded) come from the caller's own options, and are thrown for the caller to fix. */
const MODEL_FIXABLE_CODES = new Set(['payload_too_large']);
const RUNTIMES: readonly Runtime[] = ['python', 'node'];

// Makes the code tool for a client and its tools: the model writes code, run() executes it with those tools.
export function createCodeTool(client: RunboxClient, options: CodeToolOptions): CodeTool {
  const settings = resolveOptions(client, options);
  const { name, runtimes, execute, limits } = settings;
  const stubOptions = options.stubs ?? {};
  const discovery = resolveDiscovery(settings.discovery, options.tools, runtimes, stubOptions);
  // Each tool's stub in each runtime, rendered once: sent with every execution for describe_tool.
  const toolStubs = Object.fromEntries(runtimes.map((runtime) => [runtime, renderToolStubs(options.tools, runtime, stubOptions)]));
  const description = describeCodeTool({
    tools: options.tools,
    runtimes,
    inputs: execute.inputs ?? {},
    maxOutputChars: limits.maxOutputChars,
    instructions: options.instructions ?? '',
    stubs: stubOptions,
    discovery,
  });
  return {
    name,
    description,
    inputSchema: codeToolInputSchema(runtimes),
    runtimes,
    discovery,
    async run(input, runOptions = {}) {
      const parsed = parseInput(input, runtimes);
      if ('problem' in parsed) return { result: null, isError: true, text: describeBadInput(parsed.problem), attachments: [] };
      let result: ExecutionResult;
      try {
        result = await client.execute({
          toolStubs: toolStubs[parsed.runtime],
          ...execute,
          code: parsed.code,
          runtime: parsed.runtime,
          tools: options.tools,
          signal: runOptions.signal,
          ...(runOptions.sessionId === undefined ? {} : { sessionId: runOptions.sessionId }),
          ...(runOptions.files === undefined ? {} : { files: [...(execute.files ?? []), ...runOptions.files] }),
        });
      } catch (error) {
        if (error instanceof RunboxAPIError && MODEL_FIXABLE_CODES.has(error.code)) {
          return { result: null, isError: true, text: `status: not run\nerror: ${error.message}`, attachments: [] };
        }
        throw error;
      }
      return { result, isError: result.status !== 'ok', text: describeExecution(result, limits), attachments: result.files };
    },
  };
}

// The model's input as code and runtime, or the problem with it in words the model can act on.
function parseInput(input: unknown, runtimes: readonly Runtime[]): { code: string; runtime: Runtime } | { problem: string } {
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { problem: 'the input is not JSON: send an object {"code": "..."}' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'the input must be an object {"code": "..."}' };
  const { code, runtime } = value as Record<string, unknown>;
  if (typeof code !== 'string' || code.trim() === '') return { problem: '`code` is missing or empty: send the program as a string in `code`' };
  if (runtime === undefined || runtime === null) return { code, runtime: runtimes[0] };
  if (typeof runtime !== 'string' || !runtimes.includes(runtime as Runtime)) {
    return { problem: `\`runtime\` must be ${runtimes.map((name) => JSON.stringify(name)).join(' or ')}, received ${JSON.stringify(runtime)}` };
  }
  return { code, runtime: runtime as Runtime };
}

function resolveOptions(client: RunboxClient, options: CodeToolOptions) {
  if (typeof client !== 'object' || client === null || typeof client.execute !== 'function') fail('createCodeTool(client)', 'a RunboxClient', client);
  if (typeof options !== 'object' || options === null) fail('createCodeTool(client, options)', 'an object', options);
  const { tools, runtimes = ['python'], name = DEFAULT_CODE_TOOL_NAME, execute = {}, discovery = 'auto' } = options;
  if (typeof tools !== 'object' || tools === null || Array.isArray(tools)) fail('options.tools', 'an object of tools by name', tools);
  // Every execution declares all of them, so more than the daemon takes would make every call fail.
  const toolCount = Object.keys(tools).length;
  if (toolCount > PROTOCOL.maxTools) fail('options.tools', `at most ${PROTOCOL.maxTools} tools (maxTools: every execution declares them all)`, toolCount);
  if (!Array.isArray(runtimes) || runtimes.length === 0 || runtimes.some((runtime) => !RUNTIMES.includes(runtime)) || new Set(runtimes).size !== runtimes.length) {
    fail('options.runtimes', 'a non-empty list of "python" and/or "node"', runtimes);
  }
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) fail('options.name', '1-64 characters of A-Z a-z 0-9 _ -', name);
  if (discovery !== 'auto' && typeof discovery !== 'boolean') fail('options.discovery', '"auto", true or false', discovery);
  if (typeof execute !== 'object' || execute === null) fail('options.execute', 'an object of execute() options', execute);
  for (const key of ['code', 'runtime', 'tools', 'signal']) {
    if (key in execute) fail(`options.execute.${key}`, `nothing (the code tool sets ${key} itself)`, (execute as Record<string, unknown>)[key]);
  }
  const limits = {
    maxResultChars: positiveInteger('maxResultChars', options.maxResultChars, DEFAULT_MAX_RESULT_CHARS),
    maxOutputChars: positiveInteger('maxOutputChars', options.maxOutputChars, DEFAULT_MAX_OUTPUT_CHARS),
  };
  return { name, runtimes: Object.freeze([...runtimes]), execute, limits, discovery: discovery as DiscoveryOption };
}

function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(`options.${option}`, 'a positive integer', value);
  return value;
}

function fail(option: string, expected: string, received: unknown): never {
  let shown: string;
  try {
    shown = typeof received === 'function' ? 'a function' : (JSON.stringify(received) ?? String(received));
  } catch {
    shown = String(received);
  }
  throw new TypeError(`Runbox: ${option}: expected ${expected}, received ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`);
}
