// The SDK's public types: what execute() takes and returns. What crosses the wire as it is comes from the
// daemon's wire-types.ts (docs/protocol.md), the one copy both sides use.
import type { CodeError, Runtime, ToolApproval, ToolBudgets, WireExecutionResult } from '../daemon/wire-types.js';

export type { BudgetExceeded, ExecutionStatus, FileError, HealthStatus, Runtime, RuntimeInfo, ToolApproval, ToolBudgets, ToolCallLogEntry, ToolCallOutcome } from '../daemon/wire-types.js';

/** A JSON Schema object describing a tool's arguments; the order of `properties` is the positional order. */
export type JsonSchema = Record<string, unknown>;

/** An input file written into the sandbox's workspace before the code runs. */
export interface InputFile {
  /** Path relative to the workspace, e.g. `data/sales.csv`. */
  path: string;
  /** The file's bytes; a string is written as UTF-8. */
  content: string | Uint8Array;
}

/** An output file the code declared with `set_result(..., files=[...])` / `setResult(..., [...])`. */
export interface OutputFile {
  /** Path relative to the workspace, as the code declared it. */
  path: string;
  /** MIME type the daemon detected, e.g. `image/png`. */
  mimeType: string;
  /** Size in bytes. */
  size: number;
  /** The file's bytes (a Buffer, so `content.toString('utf8')` works for text). */
  content: Buffer;
}

/** Why an execution did not end `ok`: the exception class (or `Timeout`, `Cancelled`, ...), message and traceback. */
export type ExecutionError = CodeError;

/** The outcome of one execution; `status` says how it ended. The wire's result with its files decoded to bytes. */
export interface ExecutionResult<T = unknown> extends Omit<WireExecutionResult, 'result' | 'files'> {
  /** The id this client gave the execution on the WebSocket. */
  id: string;
  /** The value given to `set_result`/`setResult` or returned at top level; `null` when none. */
  result: T | null;
  files: OutputFile[];
}

/** What a tool handler gets besides its arguments. */
export interface ToolCallContext {
  /** The execution's id on this client. */
  executionId: string;
  /** The daemon's id for this call. */
  callId: string;
  /** Aborted when the execution ends (result, cancel, lost connection): the answer would no longer be read. */
  signal: AbortSignal;
}

/** A tool the sandboxed code can call; it runs here, in the client's process. */
export interface ToolDefinition<Args = any, Result = unknown> {
  /**
   * What the tool does, shown to the code's author.
   * @default ''
   */
  description?: string;
  /**
   * JSON Schema of the arguments object; the order of `properties` is the order positional arguments bind in.
   * @default { type: 'object', properties: {} }
   */
  parameters?: JsonSchema;
  /**
   * JSON Schema of the tool's result, as MCP tools declare one. Python code then gets the result as the tool's
   * `<Name>Output` model (attribute access, `to_dict()`), and stubs show its fields.
   * @default undefined (any JSON result)
   */
  outputSchema?: JsonSchema;
  /**
   * Answers one call. Its return value (`undefined` becomes `null`) is sent back as JSON; if it throws, the
   * code's call raises `ToolError` with the thrown error's message.
   */
  handler: (args: Args, context: ToolCallContext) => Result | Promise<Result>;
  /**
   * Whether a call must be approved by the execution's `onToolCall` hook before the handler runs: `true` for
   * every call, or a function deciding per call from its arguments. The code waits while the decision is
   * pending; a denial raises `ToolError` in the code with the reason. A function that throws denies the call.
   * @default false
   */
  needsApproval?: boolean | ((args: Args, context: ToolCallContext) => boolean | Promise<boolean>);
}

/** Tools by name: the name is what the code calls (`await get_users()`). */
export type ToolSet = Record<string, ToolDefinition>;

/** A tool call that needs approval, as the `onToolCall` hook gets it. */
export interface ToolCallRequest {
  /** The tool's name. */
  tool: string;
  /** The arguments the code passed (a JSON value, usually an object). */
  args: unknown;
  /** The daemon's id for this call. */
  callId: string;
  /** The execution's id on this client. */
  executionId: string;
  /** Aborted when the decision is no longer wanted: its deadline (`approvalTimeoutMs`) passed or the execution ended. */
  signal: AbortSignal;
}

/**
 * The `onToolCall` hook's answer: approve, approve with other arguments (a plain JSON object the handler then
 * gets instead), or deny with a reason the code sees. `true` and `false` are short for approve and deny.
 */
export type ToolCallDecision =
  | { decision: 'approve' }
  | { decision: 'approve'; args: Record<string, unknown> }
  | { decision: 'deny'; reason: string }
  | boolean;

/** How a call's approval went, as sent to the daemon (`tool_result.approval`): `modified` when the hook changed the arguments. */
export type ToolCallApproval = ToolApproval;

/** One tool call this client answered, as `onToolCallFinish` gets it. */
export interface ToolCallRecord {
  /** The daemon's id for this call. */
  callId: string;
  /** The tool's name. */
  tool: string;
  /** The arguments the code passed (in full: nothing is cut on the client side). */
  args: unknown;
  /** The arguments the handler ran with instead, when the `onToolCall` hook modified them. */
  modifiedArgs?: Record<string, unknown>;
  /** When the call reached this client. */
  startedAt: Date;
  /** From the call reaching this client to its answer being sent, approval wait included, in ms. */
  durationMs: number;
  /** How long the approval took (needsApproval and onToolCall), in ms; only for calls that needed approval. */
  approvalMs?: number;
  /** `ok` (a result was sent), `error` (the handler threw, its result was not JSON, or no such tool) or `denied`. */
  outcome: 'ok' | 'error' | 'denied';
  /** The error message sent to the code, for `error` and `denied`. */
  error?: string;
  /** Size of the result's JSON in UTF-8 bytes, for `ok`. */
  resultBytes?: number;
  /** The approval decision, for calls that needed approval. */
  approval?: ToolCallApproval;
}

/** What execute() runs and how. */
export interface ExecuteOptions {
  /** Which interpreter runs the code. */
  runtime: Runtime;
  /** The program, UTF-8. */
  code: string;
  /**
   * Input files written into the workspace before the code runs.
   * @default []
   */
  files?: InputFile[];
  /**
   * Wall-clock limit for the execution; past it the daemon kills the code and answers `status: 'timeout'`.
   * @default the daemon's configured `defaultTimeoutMs`
   */
  timeoutMs?: number;
  /**
   * JSON values the code reads as variables of these names (`lead_id` in Python, `leadId` in Node, as you name
   * them). A name must be an identifier in both languages (1-64 of `[A-Za-z0-9_]`), not a keyword, not a prelude
   * name (`call_tool`, `setResult`, `require`, ...), not starting with `__`, and not a tool's name.
   * @default {}
   */
  inputs?: Record<string, unknown>;
  /**
   * Python: matplotlib figures still open when the code ends, or shown with `plt.show()`, come back as PNG files
   * (`figure_1.png`, `figure_2.png`... in the order captured, never over a file that exists or that the code
   * declared) without being declared. `false` turns it off.
   * @default true
   */
  captureFigures?: boolean;
  /**
   * The tools the code may call, by name.
   * @default {}
   */
  tools?: ToolSet;
  /**
   * What the code may spend on the tools: calls per tool (one number for all, or by tool name), calls waiting at
   * once, bytes of results in all. A call past one raises `ToolError` with code `budget_exceeded` in the code, and
   * the result's `budgetsExceeded` lists it.
   * @default {} (no budget beyond the daemon's maxToolCalls and maxToolCallBytes)
   */
  budgets?: ToolBudgets;
  /**
   * Check each tool's result against its `outputSchema` in the daemon; a mismatch raises `ToolError` with code
   * `invalid_result` in the code.
   * @default true
   */
  validateResults?: boolean;
  /**
   * Send each tool's stub in the execution's language, which `describe_tool(name)` / `describeTool(name)` return
   * in the sandbox: `true` renders them for this execution (renderToolStubs()), an object gives them by tool name
   * (render once with `renderToolStubs(tools, runtime)`, send with many executions). Without stubs,
   * describe_tool shows the tool's JSON Schemas. Each stub is at most 16 KiB (`maxToolStubBytes`).
   * @default false
   */
  toolStubs?: boolean | Readonly<Record<string, string>>;
  /**
   * Receives each chunk of stdout as the code prints it (the full text is also in the result).
   * @default undefined
   */
  onStdout?: (chunk: string) => void;
  /**
   * Receives each chunk of stderr as the code prints it (the full text is also in the result).
   * @default undefined
   */
  onStderr?: (chunk: string) => void;
  /**
   * Decides each call of a tool whose `needsApproval` says so, before its handler runs; the code waits
   * meanwhile. An answer that is not a valid ToolCallDecision, or a hook that throws, denies the call saying
   * why. Without this hook, every call that needs approval is denied.
   * @default undefined
   */
  onToolCall?: (call: ToolCallRequest) => ToolCallDecision | Promise<ToolCallDecision>;
  /**
   * How long a call may wait for its approval decision (needsApproval and onToolCall together); past it the call is denied
   * (`no approval decision within <approvalTimeoutMs> ms`), the code goes on, and a late decision is ignored.
   * @default 60000
   */
  approvalTimeoutMs?: number;
  /**
   * Gets a record of each tool call once this client has answered it (not calls left unanswered because the
   * execution ended first). An error it throws goes to the client's `onError`, never into the execution.
   * @default undefined
   */
  onToolCallFinish?: (record: ToolCallRecord) => void;
  /**
   * Runs the code in this session's workspace (from createSession()), after the session's earlier executions:
   * the files the session's earlier code wrote are there. session.execute() fills it in.
   * @default undefined (a fresh, empty workspace removed after the execution)
   */
  sessionId?: string;
  /**
   * Cancels the execution when aborted: execute() then rejects with a RunboxAbortError that carries the
   * daemon's final `cancelled` result in `.result` when it arrives in time.
   * @default undefined
   */
  signal?: AbortSignal;
}

/**
 * What client.stream() yields, in the order it happened: output as the code prints it, each tool call when it
 * arrives and when this client has answered it, then each output file and the result (always last).
 */
export type ExecutionEvent<T = unknown> =
  | { type: 'stdout'; data: string }
  | { type: 'stderr'; data: string }
  | { type: 'tool_call'; callId: string; tool: string; args: unknown }
  | {
      type: 'tool_result';
      callId: string;
      tool: string;
      outcome: ToolCallRecord['outcome'];
      durationMs: number;
      /** The handler's value, for `ok`. */
      result?: unknown;
      /** The message the code got, for `error` and `denied`. */
      error?: string;
      /** The approval decision, for calls that needed approval. */
      approval?: ToolCallApproval;
    }
  | { type: 'file'; file: OutputFile }
  | { type: 'result'; result: ExecutionResult<T> };

/** Options of the plain HTTP helpers. */
export interface RequestOptions {
  /**
   * Aborts the request; the call then rejects with a RunboxAbortError.
   * @default undefined
   */
  signal?: AbortSignal;
}
