// The MCP tools Runbox serves, as one table: execute_code (code mode over the caller's tools, in a sandbox, with an
// optional session and input files) and the session tools (create, list/read/write files, close). Arguments are
// checked against the declared input schemas; every failure is an answer with `isError`, never a thrown error.

import { Ajv, type ValidateFunction } from 'ajv';
import type { RunboxClient } from '../client.js';
import { createCodeTool, DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_MAX_RESULT_CHARS, type CodeToolExecuteOptions } from '../code-tool.js';
import { RunboxAbortError, RunboxConnectionError, RunboxError, RunboxTimeoutError } from '../errors.js';
import type { DiscoveryOption } from '../code-tool/discovery.js';
import type { StubOptions } from '../stubs/text.js';
import type { InputFile, JsonSchema, Runtime, ToolSet } from '../types.js';
import { errorAnswer, executionAnswer, jsonAnswer, readFileAnswer, encodeUriPath, type McpToolAnswer } from './server-content.js';
import { EXECUTE_CODE_OUTPUT_SCHEMA, SESSION_TOOL_SCHEMAS, executeCodeInputSchema } from './server-schemas.js';

/** Options of the MCP tools (and of createRunboxMcpServer). */
export interface RunboxMcpToolsOptions {
  /**
   * The tools the code may call (e.g. the tools of upstream MCP servers); their stubs are in execute_code's
   * description.
   * @default {}
   */
  tools?: ToolSet;
  /**
   * The languages execute_code accepts; the first is the default.
   * @default ['python', 'node']
   */
  runtimes?: Runtime[];
  /**
   * Text appended to execute_code's description (what the task or the tools are about).
   * @default ''
   */
  instructions?: string;
  /**
   * Options of every execution (`timeoutMs`, `budgets`, `inputs`...), as for createCodeTool.
   * @default {}
   */
  execute?: Omit<CodeToolExecuteOptions, 'sessionId' | 'files'>;
  /**
   * How much of the result's JSON the answer text keeps.
   * @default 4000
   */
  maxResultChars?: number;
  /**
   * How much of stdout and the traceback the answer keeps (its start and end).
   * @default 4000
   */
  maxOutputChars?: number;
  /**
   * Options of the stubs in execute_code's description.
   * @default {}
   */
  stubs?: StubOptions;
  /**
   * Progressive discovery in execute_code's description (tool groups and search_tools/describe_tool instead of every
   * stub), as for createCodeTool.
   * @default 'auto'
   */
  discovery?: DiscoveryOption;
  /**
   * The session tools (create_session, list_files, read_file, write_file, close_session).
   * @default true
   */
  sessionTools?: boolean;
}

/** One tool of the table: what tools/list shows, and its handler. */
export interface RunboxMcpTool {
  name: string;
  description: string;
  inputSchema: JsonSchema & { type: 'object' };
  outputSchema: JsonSchema & { type: 'object' };
  call(args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<McpToolAnswer>;
}

/** The tools, by name, and one entry point that checks the arguments and never throws. */
export interface RunboxMcpTools {
  readonly list: readonly RunboxMcpTool[];
  call(name: string, args: unknown, signal?: AbortSignal): Promise<McpToolAnswer>;
}

const DEFAULT_RUNTIMES: Runtime[] = ['python', 'node'];
const SESSION_TEXT = '\n\nSessions: pass `sessionId` (from create_session) to keep files and installed packages across calls; ' +
  '`files` writes input files first (`encoding: "base64"` for bytes). Returned images come back as image content, other files as embedded resources.';

// Builds the tool table over a client: the schemas, argument checks (compiled once) and the handlers.
export function createRunboxMcpTools(client: RunboxClient, options: RunboxMcpToolsOptions = {}): RunboxMcpTools {
  const runtimes = options.runtimes ?? DEFAULT_RUNTIMES;
  const tools = options.tools ?? {};
  const codeTool = createCodeTool(client, {
    tools, runtimes, instructions: options.instructions, execute: options.execute, maxResultChars: options.maxResultChars,
    maxOutputChars: options.maxOutputChars, stubs: options.stubs, discovery: options.discovery,
  });
  const limits = { maxResultChars: options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS, maxOutputChars: options.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS };
  const list: RunboxMcpTool[] = [
    {
      name: 'execute_code',
      description: codeTool.description + SESSION_TEXT,
      inputSchema: executeCodeInputSchema(runtimes),
      outputSchema: EXECUTE_CODE_OUTPUT_SCHEMA,
      async call(args, signal) {
        const sessionId = args.sessionId as string | undefined;
        const files = ((args.files ?? []) as { path: string; content: string; encoding?: string }[]).map((file): InputFile => ({
          path: file.path, content: decodeContent(file.content, file.encoding),
        }));
        // Through the code tool's run(), so executions get what it sends (the tools' stubs for describe_tool).
        const output = await codeTool.run({ code: args.code, runtime: args.runtime }, { signal, sessionId, files });
        if (output.result === null) return errorAnswer(output.text);
        const uriBase = sessionId === undefined ? 'runbox://outputs/' : `runbox://sessions/${encodeURIComponent(sessionId)}/files/`;
        return executionAnswer(output.result, limits, uriBase);
      },
    },
  ];
  if (options.sessionTools !== false) list.push(...sessionTools(client));
  const ajv = new Ajv({ strict: false, allErrors: false });
  const validators = new Map(list.map((tool) => [tool.name, ajv.compile(tool.inputSchema)]));
  return {
    list,
    async call(name, args, signal) {
      const tool = list.find((candidate) => candidate.name === name);
      if (!tool) return errorAnswer(`error: unknown_tool: no tool ${JSON.stringify(name)}; the tools are ${list.map((t) => t.name).join(', ')}`);
      const values = args ?? {};
      const validate = validators.get(name) as ValidateFunction;
      if (!validate(values)) return errorAnswer(`error: invalid_arguments: ${describeAjvErrors(validate)}`);
      try {
        return await tool.call(values as Record<string, unknown>, signal);
      } catch (error) {
        return errorAnswer(describeFailure(error, client.url));
      }
    },
  };
}

// The session tools: each one request (or two) of the client's session API.
function sessionTools(client: RunboxClient): RunboxMcpTool[] {
  const schemas = SESSION_TOOL_SCHEMAS;
  const fileUri = (sessionId: string, path: string) => `runbox://sessions/${encodeURIComponent(sessionId)}/files/${encodeUriPath(path)}`;
  return [
    {
      name: 'create_session',
      description: 'Creates a session: a workspace on the Runbox daemon whose files persist across execute_code calls that pass its `sessionId`, until close_session or `ttlMs` idle.',
      ...schemas.create_session,
      async call(args, signal) {
        const session = await client.createSession({ ttlMs: args.ttlMs as number | undefined, signal });
        const info = await session.info({ signal });
        return jsonAnswer({ sessionId: session.id, expiresAt: info.expiresAt });
      },
    },
    {
      name: 'list_files',
      description: 'Lists the files of a session\'s workspace (path, size, MIME type), sorted by path.',
      ...schemas.list_files,
      async call(args, signal) {
        const listing = await client.session(args.sessionId as string).files.list({ signal });
        const files = listing.files.map(({ path, size, mimeType, type, modified }) => ({ path, size, mimeType, type, modified }));
        return jsonAnswer({ files, truncated: listing.truncated });
      },
    },
    {
      name: 'read_file',
      description: 'Reads a file of a session\'s workspace: text as text, images as image content, other files as an embedded resource (base64).',
      ...schemas.read_file,
      async call(args, signal) {
        const file = await client.session(args.sessionId as string).files.download(args.path as string, { signal });
        return readFileAnswer(file, fileUri(args.sessionId as string, file.path));
      },
    },
    {
      name: 'write_file',
      description: 'Writes a file into a session\'s workspace (parent directories made, an existing file replaced); `encoding: "base64"` for bytes.',
      ...schemas.write_file,
      async call(args, signal) {
        const content = decodeContent(args.content as string, args.encoding as string | undefined);
        const written = await client.session(args.sessionId as string).files.upload(args.path as string, content, { signal });
        return jsonAnswer({ path: written.path, size: written.size });
      },
    },
    {
      name: 'close_session',
      description: 'Closes a session: its running code is cancelled and its files removed. Closing one that is gone already is not an error.',
      ...schemas.close_session,
      async call(args, signal) {
        await client.session(args.sessionId as string).close({ signal });
        return jsonAnswer({ sessionId: args.sessionId as string, closed: true });
      },
    },
  ];
}

// What went wrong, for the model: the daemon's error code and message, or that no daemon answers and what to do.
export function describeFailure(error: unknown, url: string): string {
  if (error instanceof RunboxConnectionError || error instanceof RunboxTimeoutError) {
    return `error: daemon_unreachable: no Runbox daemon answers at ${url} (${error.message}). ` +
      'Start one (`runbox serve`, as root) or point RUNBOX_URL / --url at a running one.';
  }
  if (error instanceof RunboxAbortError) return 'error: cancelled: the call was cancelled';
  if (error instanceof RunboxError) return `error: ${error.message.includes(error.code) ? error.message : `${error.code}: ${error.message}`}`;
  if (error instanceof TypeError) return `error: invalid_arguments: ${error.message}`;
  return `error: internal_error: ${error instanceof Error ? error.message : String(error)}`;
}

function decodeContent(content: string, encoding: string | undefined): string | Uint8Array {
  return encoding === 'base64' ? Buffer.from(content, 'base64') : content;
}

function describeAjvErrors(validate: ValidateFunction): string {
  const [first] = validate.errors ?? [];
  if (!first) return 'the arguments do not match the input schema';
  const where = first.instancePath === '' ? 'arguments' : `arguments${first.instancePath.replaceAll('/', '.')}`;
  const extra = first.keyword === 'additionalProperties' ? ` (${String((first.params as { additionalProperty?: string }).additionalProperty)})` : '';
  const allowed = first.keyword === 'enum' ? `: ${((first.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}` : '';
  return `${where} ${first.message ?? 'is invalid'}${extra}${allowed}`;
}
