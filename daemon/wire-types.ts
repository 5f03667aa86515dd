// The wire contract of docs/protocol.md as TypeScript types, the one copy the daemon and the SDK both use.
// Types only: importing it costs nothing at run time, so the SDK can depend on it without the daemon's code.

/** Which interpreter runs the code. */
export type Runtime = 'python' | 'node';

/** How an execution ended. None of these is thrown: a failed program is a normal result. */
export type ExecutionStatus = 'ok' | 'error' | 'timeout' | 'killed' | 'cancelled';

/** Why an execution did not end `ok`: the exception class (or `Timeout`, `Cancelled`, ...), message and traceback. */
export interface CodeError {
  type: string;
  message: string;
  traceback: string;
}

/** A declared output file the daemon refused to return, with the reason. */
export interface FileError {
  path: string;
  message: string;
}

/** An output file as it crosses the wire: its bytes in base64. */
export interface EncodedFile {
  /** Path relative to the workspace, as the code declared it. */
  path: string;
  /** MIME type the daemon detected, e.g. `image/png`. */
  mimeType: string;
  /** Size in bytes. */
  size: number;
  /** The file's bytes, base64. */
  content: string;
}

/** The result of one execution as the daemon sends it (the HTTP body, the WebSocket `result` message). */
export interface WireExecutionResult {
  status: ExecutionStatus;
  /** The value given to `set_result`/`setResult` or returned at top level; `null` when none. */
  result: unknown;
  /** Everything the code printed to stdout (cut at the daemon's `maxOutputBytes` with a marker line). */
  stdout: string;
  /** Everything the code printed to stderr (cut at the daemon's `maxOutputBytes` with a marker line). */
  stderr: string;
  files: EncodedFile[];
  fileErrors: FileError[];
  error: CodeError | null;
  /** The interpreter's exit code; `null` when it was killed by a signal. */
  exitCode: number | null;
  /** Wall-clock time from the daemon accepting the request to the result. */
  durationMs: number;
  /** How many tool calls the code made. */
  toolCalls: number;
  /** Each tool call of the code, in the order they finished (at most 1000; see `toolCallLogTruncated`). */
  toolCallLog: ToolCallLogEntry[];
  /** True when the code made more calls than the log keeps; left out otherwise. */
  toolCallLogTruncated?: boolean;
  /** The request's `budgets` the code went past, each budget (and tool) once; empty when none. */
  budgetsExceeded: BudgetExceeded[];
}

/** How a client decided on a call that needed approval, as its `tool_result` reports it. */
export interface ToolApproval {
  decision: 'approved' | 'modified' | 'denied';
  /** Why, in at most 1000 characters. */
  reason?: string;
}

/** How one tool call ended. */
export type ToolCallOutcome = 'ok' | 'error' | 'invalid_arguments' | 'invalid_result' | 'budget_exceeded' | 'denied' | 'unknown_tool' | 'limit_exceeded' | 'cancelled';

/** One tool call of the code, as the result's `toolCallLog` records it. */
export interface ToolCallLogEntry {
  /** The `callId` of the `tool_call` the client got (`c17`); `code:<id>` for a call no client saw. */
  callId: string;
  tool: string;
  /** The code's arguments; when their JSON is over 1 KiB, a string of its first 1 KiB and a marker instead. */
  args: unknown;
  /** When the call arrived, in ms since the execution's sandbox was ready. */
  startedAtMs: number;
  durationMs: number;
  outcome: ToolCallOutcome;
  /** The error the code got, cut at 1000 characters; left out for `ok`. */
  error?: string;
  /** Bytes of the result's JSON; 0 on error. */
  resultBytes: number;
  /** The client's decision, when its answer carried one. */
  approval?: ToolApproval;
}

/** A budget of the request the code went past. */
export interface BudgetExceeded {
  budget: 'maxCallsPerTool' | 'maxConcurrentToolCalls' | 'maxToolResultBytes';
  /** The tool, for maxCallsPerTool. */
  tool?: string;
  limit: number;
}

/** What an execution may spend on its tools (the request's `budgets`); each is unlimited when left out. */
export interface ToolBudgets {
  /** Calls each tool may get: one number for every tool, or a number per tool name. */
  maxCallsPerTool?: number | Record<string, number>;
  /** Tool calls waiting for the client at once. */
  maxConcurrentToolCalls?: number;
  /** Bytes of the client's tool results (their JSON) in all. */
  maxToolResultBytes?: number;
}

/** A tool as an execution declares it: the code gets a function of this name. */
export interface ToolDeclaration {
  name: string;
  description: string;
  /** JSON Schema of the arguments object; the order of `properties` is the positional order. */
  parameters: Record<string, unknown>;
  /** JSON Schema of the tool's result, as MCP tools declare one; left out when the tool has none. */
  outputSchema?: Record<string, unknown>;
  /** The tool's stub in the execution's language, as the SDK renders it (at most `maxToolStubBytes`): what
   * `describe_tool` / `describeTool` return in the sandbox. Left out, they render the schemas as JSON. */
  stub?: string;
}

/** How full a session's workspace is. Each number is `null` when the daemon cannot tell (no workspace quota here). */
export interface SessionWorkspaceUsage {
  usedBytes: number | null;
  /** The workspace's size limit (the daemon's `workspaceBytes`). */
  maxBytes: number | null;
  usedFiles: number | null;
  /** The most files and directories the workspace may hold (the daemon's `workspaceFiles`). */
  maxFiles: number | null;
}

/** A session as the daemon describes it (POST /v1/sessions, GET /v1/sessions/:id). */
export interface SessionInfo {
  /** `ses_` followed by 26 characters. */
  id: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** ISO 8601 time at which the session expires if it stays idle (pushed back by every execution and file operation). */
  expiresAt: string;
  ttlMs: number;
  /** The runtime given at creation, if any. */
  runtime: Runtime | null;
  workspace: SessionWorkspaceUsage;
}

/** What a workspace entry is; links and special files are listed as themselves, never followed. */
export type WorkspaceEntryType = 'file' | 'symlink' | 'fifo' | 'socket' | 'device';

/** One file of a session's workspace, as its listing reports it. */
export interface WorkspaceEntry {
  /**
   * Path relative to the workspace, `/` between directories. When `pathEncoding` is `percent` (a name is not
   * UTF-8), every name is percent-encoded byte by byte.
   */
  path: string;
  /** Set when a name on the path is not valid UTF-8 and `path` is its percent-encoded form. */
  pathEncoding?: 'percent';
  type: WorkspaceEntryType;
  /** Size in bytes. */
  size: number;
  /** MIME type the daemon detected, e.g. `text/csv`. */
  mimeType: string;
  /** ISO 8601 time of the last modification. */
  modified: string;
}

/** The files of a session's workspace (directories are implied by the paths). */
export interface WorkspaceListing {
  files: WorkspaceEntry[];
  /** True when the workspace holds more files than the daemon lists at once. */
  truncated: boolean;
}

/** One runtime as GET /v1/runtimes describes it. */
export interface RuntimeInfo {
  name: Runtime | (string & {});
  version: string;
  available: boolean;
  /** Why the runtime cannot run code, when it is not available. */
  problem?: string;
}

/** The answer of GET /healthz: `ok` with the usable runtimes, or not ok with the problems. */
export interface HealthStatus {
  ok: boolean;
  /** Names of the runtimes that can run code. */
  runtimes?: string[];
  /** False when the daemon runs code without a sandbox (development only). */
  sandboxed?: boolean;
  /** What stops the daemon from running code, when `ok` is false. */
  problems?: string[];
}

/** An input file as it crosses the wire: its bytes in base64. */
export interface EncodedInputFile {
  path: string;
  content: string;
}

/** What a client sends on /v1/ws. */
export type ClientMessage =
  | {
      type: 'execute';
      id: string;
      runtime: string;
      code: string;
      files: EncodedInputFile[];
      timeoutMs?: number;
      sessionId?: string;
      limits?: Record<string, number>;
      /** JSON values the code reads as variables of these names. */
      inputs?: Record<string, unknown>;
      /** Python: matplotlib figures come back as PNG files (true when left out). */
      captureFigures?: boolean;
      tools: ToolDeclaration[];
      /** What the code may spend on its tools. */
      budgets?: ToolBudgets;
      /** Check the client's results against the tools' outputSchema (default true). */
      validateResults?: boolean;
    }
  | { type: 'tool_result'; callId: string; result: unknown; approval?: ToolApproval }
  | { type: 'tool_result'; callId: string; error: { message: string; code?: string }; approval?: ToolApproval }
  | { type: 'cancel'; id: string };

/** What the daemon sends on /v1/ws. */
export type DaemonMessage =
  | ({ type: 'result'; id: string } & WireExecutionResult)
  | { type: 'tool_call'; id: string; callId: string; name: string; args: unknown }
  | { type: 'stdout' | 'stderr'; id: string; data: string }
  | {
      type: 'error';
      /** The execution the error is about, when it is about one. */
      id?: string;
      /** The tool call the error is about, when it is about one. */
      callId?: string;
      code: string;
      message: string;
      /** With `queue_full`: how long to wait before trying again. */
      retryAfterMs?: number;
    };
