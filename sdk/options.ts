// The client's options with their defaults, and the checks that make bad options fail at the boundary with a
// message naming the option, what was expected and what was received. Values the daemon checks itself
// (runtime names, timeout ranges, tool names) are left to it, so there is one source of truth.

import type { RunboxError } from './errors.js';
import { PROTOCOL } from '../daemon/protocol.js';

/** How to reach the daemon and how long to wait for it. */
export interface RunboxClientOptions {
  /**
   * The daemon's base URL (`http(s)://`; `ws(s)://` is accepted too). The WebSocket is `<url>/v1/ws`.
   * @default process.env.RUNBOX_URL ?? 'http://127.0.0.1:9000'
   */
  url?: string;
  /**
   * Bearer token sent as `Authorization: Bearer <token>` on HTTP requests and the WebSocket upgrade.
   * @default process.env.RUNBOX_TOKEN
   */
  token?: string;
  /**
   * How long opening the WebSocket may take before execute() rejects with a RunboxTimeoutError.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long one HTTP request (health(), runtimes(), createSession(), a session's info(), close() and file
   * operations) may take, answer included, before it rejects with a RunboxTimeoutError.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * After an abort, how long execute() waits for the daemon's final `cancelled` result before rejecting
   * without it.
   * @default 5000
   */
  cancelTimeoutMs?: number;
  /**
   * Gets daemon errors that belong to no running execution (an `error` message without an id, a frame that
   * is not JSON), and a RunboxHookError when an execution's `onToolCallFinish` throws. Late answers that crossed a finished execution (`unknown_execution`, `unknown_call`) are
   * dropped, not reported.
   * @default emits the error as a process warning (`process.emitWarning`)
   */
  onError?: (error: RunboxError) => void;
}

export interface ResolvedClientOptions {
  httpUrl: URL;
  wsUrl: string;
  token: string | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  cancelTimeoutMs: number;
  onError: (error: RunboxError) => void;
}

export const DEFAULT_URL = 'http://127.0.0.1:9000';
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CANCEL_TIMEOUT_MS = 5_000;

// Fills in defaults (environment included) and checks every client option, throwing a TypeError naming the bad one.
export function resolveClientOptions(options: RunboxClientOptions, env: NodeJS.ProcessEnv): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'an object', options);
  const url = options.url ?? env.RUNBOX_URL ?? DEFAULT_URL;
  const token = options.token ?? env.RUNBOX_TOKEN;
  if (typeof url !== 'string') fail('options.url', 'a string', url);
  if (token !== undefined && typeof token !== 'string') fail('options.token', 'a string', token);
  if (options.onError !== undefined && typeof options.onError !== 'function') fail('options.onError', 'a function', options.onError);
  return {
    ...deriveUrls(url),
    token: token === '' ? undefined : token,
    connectTimeoutMs: positiveMs('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    requestTimeoutMs: positiveMs('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
    cancelTimeoutMs: positiveMs('cancelTimeoutMs', options.cancelTimeoutMs, DEFAULT_CANCEL_TIMEOUT_MS),
    onError: options.onError ?? ((error) => process.emitWarning(error)),
  };
}

// The HTTP base (ending in `/`) and the WebSocket URL for a daemon URL given as http(s) or ws(s).
export function deriveUrls(url: string): { httpUrl: URL; wsUrl: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail('options.url', 'an absolute http(s):// or ws(s):// URL', url);
  }
  const httpProtocol = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[parsed.protocol];
  if (httpProtocol === undefined) fail('options.url', 'an absolute http(s):// or ws(s):// URL', url);
  const httpUrl = new URL(parsed.href);
  httpUrl.protocol = httpProtocol;
  httpUrl.search = '';
  httpUrl.hash = '';
  // A base path like /v1/ws (someone pasted the WebSocket URL) is taken back to the daemon's root.
  httpUrl.pathname = httpUrl.pathname.replace(/\/?v1\/ws\/?$/, '');
  if (!httpUrl.pathname.endsWith('/')) httpUrl.pathname += '/';
  const wsUrl = new URL('v1/ws', httpUrl);
  wsUrl.protocol = httpProtocol === 'https:' ? 'wss:' : 'ws:';
  return { httpUrl, wsUrl: wsUrl.href };
}

// Checks what execute() itself relies on (file contents to encode, functions to call); throws a TypeError naming the option.
export function validateExecuteOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) fail('execute(options)', 'an object', options);
  const {
    code, files, tools, onStdout, onStderr, signal, sessionId, inputs, budgets, validateResults, captureFigures,
    onToolCall, onToolCallFinish, approvalTimeoutMs, toolStubs,
  } = options as Record<string, unknown>;
  if (typeof code !== 'string') fail('options.code', 'a string', code);
  if (inputs !== undefined && (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs))) fail('options.inputs', 'an object of named JSON values', inputs);
  if (captureFigures !== undefined && typeof captureFigures !== 'boolean') fail('options.captureFigures', 'true or false', captureFigures);
  if (sessionId !== undefined && typeof sessionId !== 'string') fail('options.sessionId', 'a string from createSession()', sessionId);
  if (files !== undefined) {
    if (!Array.isArray(files)) fail('options.files', 'an array of {path, content}', files);
    files.forEach((file: unknown, index) => {
      const entry = (typeof file === 'object' && file !== null ? file : {}) as Record<string, unknown>;
      if (typeof entry.path !== 'string') fail(`options.files[${index}].path`, 'a string', entry.path);
      if (typeof entry.content !== 'string' && !(entry.content instanceof Uint8Array)) {
        fail(`options.files[${index}].content`, 'a string or a Uint8Array', entry.content);
      }
    });
  }
  if (tools !== undefined) {
    if (typeof tools !== 'object' || tools === null || Array.isArray(tools)) fail('options.tools', 'an object of tools by name', tools);
    for (const [name, tool] of Object.entries(tools)) {
      const handler = typeof tool === 'object' && tool !== null ? (tool as Record<string, unknown>).handler : undefined;
      if (typeof handler !== 'function') fail(`options.tools.${name}.handler`, 'a function', handler);
      const { needsApproval } = tool as Record<string, unknown>;
      if (needsApproval !== undefined && typeof needsApproval !== 'boolean' && typeof needsApproval !== 'function') {
        fail(`options.tools.${name}.needsApproval`, 'a boolean or a function (args, context) => boolean', needsApproval);
      }
      if (name.startsWith(PROTOCOL.reservedToolPrefix)) fail(`options.tools.${name}`, `a name that does not start with "${PROTOCOL.reservedToolPrefix}" (kept for the daemon's own tools)`, name);
    }
  }
  if (budgets !== undefined && (typeof budgets !== 'object' || budgets === null || Array.isArray(budgets))) {
    fail('options.budgets', 'an object {maxCallsPerTool, maxConcurrentToolCalls, maxToolResultBytes}', budgets);
  }
  if (validateResults !== undefined && typeof validateResults !== 'boolean') fail('options.validateResults', 'true or false', validateResults);
  if (toolStubs !== undefined && typeof toolStubs !== 'boolean' && (typeof toolStubs !== 'object' || toolStubs === null || Array.isArray(toolStubs) || !Object.values(toolStubs).every((stub) => typeof stub === 'string'))) {
    fail('options.toolStubs', 'true, false or an object of stub strings by tool name (renderToolStubs())', toolStubs);
  }
  if (onStdout !== undefined && typeof onStdout !== 'function') fail('options.onStdout', 'a function', onStdout);
  if (onStderr !== undefined && typeof onStderr !== 'function') fail('options.onStderr', 'a function', onStderr);
  if (signal !== undefined && !(signal instanceof AbortSignal)) fail('options.signal', 'an AbortSignal', signal);
  if (onToolCall !== undefined && typeof onToolCall !== 'function') fail('options.onToolCall', 'a function (call) => decision', onToolCall);
  if (onToolCallFinish !== undefined && typeof onToolCallFinish !== 'function') fail('options.onToolCallFinish', 'a function (record) => void', onToolCallFinish);
  if (approvalTimeoutMs !== undefined) {
    // setTimeout fires at once for delays past 2^31 - 1 ms, which would deny every call.
    if (typeof approvalTimeoutMs !== 'number' || !Number.isInteger(approvalTimeoutMs) || approvalTimeoutMs < 1 || approvalTimeoutMs > MAX_TIMER_MS) {
      fail('options.approvalTimeoutMs', `an integer number of milliseconds from 1 to ${MAX_TIMER_MS}`, approvalTimeoutMs);
    }
  }
}

/** The longest delay setTimeout keeps. */
const MAX_TIMER_MS = 2_147_483_647;

// Checks the options of a request helper (createSession(), info(), the file API): an object, its signal an AbortSignal.
export function validateRequestOptions(method: string, options: unknown): void {
  if (typeof options !== 'object' || options === null) fail(`${method}(options)`, 'an object', options);
  const { signal } = options as Record<string, unknown>;
  if (signal !== undefined && !(signal instanceof AbortSignal)) fail('options.signal', 'an AbortSignal', signal);
}

// Checks what session.execute() adds to execute()'s checks: no sessionId of the caller's own.
export function validateSessionExecuteOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) fail('execute(options)', 'an object', options);
  const { sessionId } = options as Record<string, unknown>;
  if (sessionId !== undefined) fail('options.sessionId', 'nothing (session.execute() fills in its own session id)', sessionId);
}

// Checks a session id given to client.session(): a string a URL path can carry as one segment.
export function validateSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id === '' || id === '.' || id === '..') fail('session(id)', 'a session id from createSession() (ses_...)', id);
}

// Checks a file path given to the session file API (its rules are the daemon's: see encodeFilePath).
export function validateFilePath(method: string, path: unknown): asserts path is string {
  if (typeof path !== 'string') fail(`${method}(path)`, 'a string', path);
}

// Checks what files.upload() writes.
export function validateFileContent(content: unknown): void {
  if (typeof content !== 'string' && !(content instanceof Uint8Array) && !(content instanceof ArrayBuffer)) {
    fail('files.upload(path, content)', 'a string, a Uint8Array or an ArrayBuffer', content);
  }
}

function positiveMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`options.${name}`, 'a positive number of milliseconds', value);
  return value;
}

function fail(option: string, expected: string, received: unknown): never {
  throw new TypeError(`Runbox: ${option}: expected ${expected}, received ${describeReceived(received)}`);
}

// Describes a received value for an error message: short JSON, else its String() (functions, cycles, BigInts).
export function describeReceived(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (value instanceof Uint8Array) return `a ${value.constructor.name}`;
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    // Falls through to String() for cycles and BigInts.
  }
  return String(value);
}
