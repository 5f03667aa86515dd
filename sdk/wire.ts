// The WebSocket messages of docs/protocol.md and the conversions between them and the SDK's types
// (bytes ↔ base64, tool definitions → declarations). Pure functions, no I/O.

import type { BudgetExceeded, ClientMessage, EncodedInputFile, ToolCallLogEntry, ToolDeclaration } from '../daemon/wire-types.js';
import type { ExecuteOptions, ExecutionError, ExecutionResult, FileError, InputFile, OutputFile, ToolCallApproval, ToolSet } from './types.js';

/** A daemon message as received: `type` is known to be a string, the rest is checked where it is used. */
export type ReceivedMessage = { type: string; id?: unknown; [field: string]: unknown };

// Turns input files into their wire form: strings as UTF-8, every content base64.
export function encodeInputFiles(files: readonly InputFile[]): EncodedInputFile[] {
  return files.map(({ path, content }) => ({
    path,
    content: typeof content === 'string'
      ? Buffer.from(content, 'utf8').toString('base64')
      : Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64'),
  }));
}

// Lists the tools as the daemon wants them declared, filling in the optional description and schema; `stubs`
// (by tool name) become the declarations' `stub`, which describe_tool returns in the sandbox.
export function declareTools(tools: ToolSet, stubs?: Readonly<Record<string, string>>): ToolDeclaration[] {
  return Object.entries(tools).map(([name, tool]) => ({
    name,
    description: tool.description ?? '',
    parameters: tool.parameters ?? { type: 'object', properties: {} },
    ...(tool.outputSchema === undefined ? {} : { outputSchema: tool.outputSchema }),
    ...(typeof stubs?.[name] === 'string' && Object.hasOwn(stubs, name) ? { stub: stubs[name] } : {}),
  }));
}

// Builds the `execute` message for one execution; `toolStubs` are the tools' rendered stubs by name, if sent.
export function buildExecuteMessage(id: string, options: ExecuteOptions, toolStubs?: Readonly<Record<string, string>>): ClientMessage {
  return {
    type: 'execute',
    id,
    runtime: options.runtime,
    code: options.code,
    files: encodeInputFiles(options.files ?? []),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    ...(options.inputs === undefined ? {} : { inputs: options.inputs }),
    ...(options.captureFigures === undefined ? {} : { captureFigures: options.captureFigures }),
    tools: declareTools(options.tools ?? {}, toolStubs),
    ...(options.budgets === undefined ? {} : { budgets: options.budgets }),
    ...(options.validateResults === undefined ? {} : { validateResults: options.validateResults }),
  };
}

/** A `tool_result` message ready to send, with what the call's record needs to know about it. */
export interface EncodedToolResult {
  text: string;
  /** UTF-8 bytes of the result's JSON, when a result was sent. */
  resultBytes?: number;
  /** The error message sent, when an error was. */
  error?: string;
}

// Builds the answer to a tool call: the handler's value (undefined → null) or, if it threw, its message; a
// denial as an `approval_denied` error. `approval` (docs/protocol.md) says how the call's approval went.
export function buildToolResult(
  callId: string,
  outcome: { value: unknown } | { error: unknown } | { denied: string },
  approval?: ToolCallApproval,
): EncodedToolResult {
  const base = { type: 'tool_result', callId };
  const tail = approval === undefined ? {} : { approval };
  if ('denied' in outcome) {
    const reason = cutReason(outcome.denied);
    const text = JSON.stringify({ ...base, error: { message: reason, code: 'approval_denied' }, approval: { decision: 'denied', reason } });
    return { text, error: reason };
  }
  const failed = (message: string): EncodedToolResult => ({ text: JSON.stringify({ ...base, error: { message }, ...tail }), error: message });
  if ('error' in outcome) return failed(errorMessage(outcome.error));
  let json: string | undefined;
  try {
    json = JSON.stringify(outcome.value === undefined ? null : outcome.value);
  } catch (error) {
    // A BigInt or a cycle: the code gets a ToolError saying so rather than never hearing back.
    return failed(`the tool's result is not JSON: ${errorMessage(error)}`);
  }
  if (json === undefined) return failed(`the tool's result is not JSON: a ${typeof outcome.value}`);
  // The result's JSON is spliced in as it is, so a large result is serialized once.
  const head = JSON.stringify(base).slice(0, -1);
  const approvalText = approval === undefined ? '' : `,"approval":${JSON.stringify(approval)}`;
  return { text: `${head},"result":${json}${approvalText}}`, resultBytes: Buffer.byteLength(json, 'utf8') };
}

/** The longest approval reason the daemon takes (it refuses a tool_result with a longer one). */
export const MAX_APPROVAL_REASON_CHARS = 1000;

// A denial's reason cut to what the daemon takes, marked with `…` when cut (never splitting a surrogate pair).
export function cutReason(reason: string): string {
  if (reason.length <= MAX_APPROVAL_REASON_CHARS) return reason;
  let end = MAX_APPROVAL_REASON_CHARS - 1;
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${reason.slice(0, end)}…`;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : String(error);
}

// Parses one text frame from the daemon; null when it is not a JSON object with a string `type`.
export function parseDaemonMessage(text: string): ReceivedMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const message = value as Record<string, unknown>;
  return typeof message.type === 'string' ? (message as ReceivedMessage) : null;
}

// Turns a `result` message (or an HTTP result body) into an ExecutionResult with file contents as bytes.
export function decodeExecutionResult(id: string, raw: Record<string, unknown>): ExecutionResult {
  const files = Array.isArray(raw.files) ? raw.files.map(decodeOutputFile) : [];
  return {
    id,
    status: raw.status as ExecutionResult['status'],
    result: raw.result ?? null,
    stdout: typeof raw.stdout === 'string' ? raw.stdout : '',
    stderr: typeof raw.stderr === 'string' ? raw.stderr : '',
    files,
    fileErrors: Array.isArray(raw.fileErrors) ? (raw.fileErrors as FileError[]) : [],
    error: (raw.error ?? null) as ExecutionError | null,
    exitCode: typeof raw.exitCode === 'number' ? raw.exitCode : null,
    durationMs: typeof raw.durationMs === 'number' ? raw.durationMs : 0,
    toolCalls: typeof raw.toolCalls === 'number' ? raw.toolCalls : 0,
    toolCallLog: Array.isArray(raw.toolCallLog) ? (raw.toolCallLog as ToolCallLogEntry[]) : [],
    ...(raw.toolCallLogTruncated === true ? { toolCallLogTruncated: true } : {}),
    budgetsExceeded: Array.isArray(raw.budgetsExceeded) ? (raw.budgetsExceeded as BudgetExceeded[]) : [],
  };
}

function decodeOutputFile(raw: unknown): OutputFile {
  const file = raw as Record<string, unknown>;
  const content = Buffer.from(typeof file.content === 'string' ? file.content : '', 'base64');
  return {
    path: String(file.path),
    mimeType: typeof file.mimeType === 'string' ? file.mimeType : 'application/octet-stream',
    size: typeof file.size === 'number' ? file.size : content.byteLength,
    content,
  };
}

// The URL form of a workspace file path: each segment percent-encoded, `.` segments dropped. A `..` segment,
// or a path naming no file, is refused here: a URL cannot carry it (fetch would resolve it into another route).
// Every other rule (absolute, backslash, NUL, length) is left to the daemon.
export function encodeFilePath(path: string): { ok: true; urlPath: string } | { ok: false; message: string } {
  const segments = path.split('/').filter((segment) => segment !== '.');
  if (segments.includes('..')) return { ok: false, message: `file path ${JSON.stringify(path)} contains "..", which would leave the workspace` };
  if (segments.every((segment) => segment === '')) return { ok: false, message: `file path ${JSON.stringify(path)} names no file` };
  return { ok: true, urlPath: segments.map((segment) => encodeURIComponent(segment)).join('/') };
}

// The URL path of a listing entry whose path is already percent-encoded (`pathEncoding: "percent"`).
export function encodeEscapedPath(path: string): { ok: true; urlPath: string } | { ok: false; message: string } {
  if (!/^(?:[A-Za-z0-9\-_.!~*'()/]|%[0-9A-F]{2})+$/.test(path)) return { ok: false, message: `file path ${JSON.stringify(path)} is not in percent-encoded form` };
  const checked = encodeFilePath(path);
  return checked.ok ? { ok: true, urlPath: path } : checked;
}

// Reads the daemon's `{"error": {"code", "message"}}` body, tolerating anything else.
export function parseErrorBody(text: string): { code?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body?.error?.code === 'string' ? body.error.code : undefined;
    const message = typeof body?.error?.message === 'string' ? body.error.message : undefined;
    return { code, message };
  } catch {
    return { message: text.trim().slice(0, 500) || undefined };
  }
}
