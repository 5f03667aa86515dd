// The SDK's errors: one base class, one subclass per kind, all built by createRunboxError.
// A program's failure is not among them: it is a field of the ExecutionResult.

import type { ExecutionResult } from './types.js';

/** Base class of every error the SDK throws; `code` is a stable string to branch on. */
export class RunboxError extends Error {
  /** A stable string: the daemon's error code for API errors, else `connection_error`, `timeout`, `aborted`, `hook_error` or `mcp_error`. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunboxError';
    this.code = code;
  }
}

/** The daemon could not be reached, or the WebSocket closed while executions were running. */
export class RunboxConnectionError extends RunboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'connection_error', options);
    this.name = 'RunboxConnectionError';
  }
}

/** The SDK gave up waiting: connecting, or an HTTP request, took longer than its limit. */
export class RunboxTimeoutError extends RunboxError {
  /** The limit that passed. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, 'timeout', options);
    this.name = 'RunboxTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The daemon refused a request: `code` is its error code (docs/errors.md), `status` the HTTP status if any. */
export class RunboxAPIError extends RunboxError {
  /** The HTTP status; `undefined` for an `error` message on the WebSocket. */
  readonly status: number | undefined;
  /** The daemon's `x-request-id` header, when it sent one. */
  readonly requestId: string | undefined;
  /** The execution the error is about, for WebSocket errors that named one. */
  readonly executionId: string | undefined;
  /** For `queue_full`: how long the daemon suggests waiting before trying again, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, code: string, details: { status?: number; requestId?: string; executionId?: string; retryAfterMs?: number; cause?: unknown }) {
    super(message, code, { cause: details.cause });
    this.name = 'RunboxAPIError';
    this.status = details.status;
    this.requestId = details.requestId;
    this.executionId = details.executionId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The caller's AbortSignal fired. `name` is `AbortError`, like fetch's, so existing checks keep working. */
export class RunboxAbortError extends RunboxError {
  /** The daemon's final result of the cancelled execution, when it arrived in time (usually `cancelled`). */
  readonly result: ExecutionResult | undefined;

  constructor(message: string, details: { result?: ExecutionResult; cause?: unknown }) {
    super(message, 'aborted', { cause: details.cause });
    this.name = 'AbortError';
    this.result = details.result;
  }
}

/** A hook of the caller's (e.g. `onToolCallFinish`) threw; reported to the client's `onError`, the execution goes on. */
export class RunboxHookError extends RunboxError {
  /** The option whose function threw. */
  readonly hook: string;

  constructor(message: string, hook: string, options?: { cause?: unknown }) {
    super(message, 'hook_error', options);
    this.name = 'RunboxHookError';
    this.hook = hook;
  }
}

/** An MCP server given to connectMcpServers could not be started, reached or listed; `server` is its name. */
export class RunboxMcpError extends RunboxError {
  /** The server's name (the key of connectMcpServers' `servers`). */
  readonly server: string;

  constructor(message: string, server: string, options?: { cause?: unknown }) {
    super(message, 'mcp_error', options);
    this.name = 'RunboxMcpError';
    this.server = server;
  }
}

/** What createRunboxError needs for each kind of error. */
export type RunboxErrorDetails =
  | { kind: 'connection'; message: string; cause?: unknown }
  | { kind: 'timeout'; message: string; timeoutMs: number; cause?: unknown }
  | { kind: 'api'; message?: string; code?: string; status?: number; requestId?: string; executionId?: string; retryAfterMs?: number; cause?: unknown }
  | { kind: 'abort'; message?: string; result?: ExecutionResult; cause?: unknown }
  | { kind: 'hook'; hook: string; executionId?: string; cause: unknown }
  | { kind: 'mcp'; server: string; message: string; cause?: unknown };

// Builds the right RunboxError subclass: the single place SDK errors are made, so messages and codes stay uniform.
export function createRunboxError(details: RunboxErrorDetails): RunboxError {
  switch (details.kind) {
    case 'connection':
      return new RunboxConnectionError(details.message, { cause: details.cause });
    case 'timeout':
      return new RunboxTimeoutError(details.message, details.timeoutMs, { cause: details.cause });
    case 'api': {
      const code = details.code ?? 'unknown_error';
      const status = details.status === undefined ? '' : `${details.status} `;
      const message = `${status}${code}: ${details.message ?? 'the daemon gave no message'}`;
      return new RunboxAPIError(message, code, details);
    }
    case 'abort':
      return new RunboxAbortError(details.message ?? 'The operation was aborted', details);
    case 'hook': {
      const thrown = details.cause instanceof Error ? details.cause.message : String(details.cause);
      const where = details.executionId === undefined ? '' : ` (execution ${details.executionId})`;
      return new RunboxHookError(`Runbox: ${details.hook} threw${where}: ${thrown}`, details.hook, { cause: details.cause });
    }
    case 'mcp': {
      const reason = details.cause instanceof Error ? `: ${details.cause.message}` : '';
      return new RunboxMcpError(`Runbox: MCP server "${details.server}" ${details.message}${reason}`, details.server, { cause: details.cause });
    }
  }
}
