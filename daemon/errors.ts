// The registries of errors: those that cross the wire to a client (stable codes, HTTP statuses, default
// messages) and those the sandboxed code sees. docs/errors.md documents every entry of both; test/docs.test.ts
// keeps the two in step.

// Errors that reach a client: over HTTP with their status, over the WebSocket as `error` messages.
export const WIRE_ERRORS = {
  invalid_json: { httpStatus: 400, message: 'The body is not valid JSON' },
  invalid_request: { httpStatus: 400, message: 'The request is not valid' },
  invalid_path: { httpStatus: 400, message: 'A file path is not allowed' },
  unauthorized: { httpStatus: 401, message: 'Missing or wrong bearer token' },
  not_found: { httpStatus: 404, message: 'No such route' },
  method_not_allowed: { httpStatus: 405, message: 'Method not allowed on this route' },
  payload_too_large: { httpStatus: 413, message: 'The request is larger than allowed' },
  request_timeout: { httpStatus: 408, message: 'The request did not arrive in time' },
  headers_too_large: { httpStatus: 431, message: 'The request headers are larger than allowed' },
  limit_exceeded: { httpStatus: 400, message: 'A requested limit exceeds the configured maximum' },
  duplicate_id: { httpStatus: 409, message: 'An execution with this id is already running on this connection' },
  unknown_execution: { httpStatus: 404, message: 'No running execution has this id' },
  unknown_call: { httpStatus: 404, message: 'No pending tool call has this callId' },
  session_not_found: { httpStatus: 404, message: 'No such session' },
  session_limit: { httpStatus: 429, message: 'Too many sessions exist' },
  file_not_found: { httpStatus: 404, message: 'No such file in the session workspace' },
  file_changed: { httpStatus: 409, message: 'The file changed while the daemon used it' },
  quota_exceeded: { httpStatus: 507, message: 'The session workspace is full' },
  queue_full: { httpStatus: 429, message: 'Too many executions are waiting; retry later' },
  runtime_unavailable: { httpStatus: 503, message: 'The runtime cannot run code on this machine' },
  shutting_down: { httpStatus: 503, message: 'The daemon is shutting down' },
  internal_error: { httpStatus: 500, message: 'Internal error' },
} as const;

export type WireErrorCode = keyof typeof WIRE_ERRORS;

// The one registry of errors the sandboxed code sees: a failed tool call or install is answered over the bridge
// with `{code, message}`, which the prelude raises as ToolError or InstallError. They never reach a client as
// errors of their own, so they have no HTTP status. docs/errors.md ("Errors the code sees") documents each.
export const CODE_ERRORS = {
  tool_error: { message: 'The tool failed' },
  unknown_tool: { message: 'The tool was not declared for this execution' },
  no_client: { message: 'No client is connected to answer tool calls' },
  limit_exceeded: { message: 'A limit of the execution was reached' },
  invalid_package: { message: 'A package name or version specifier is not allowed' },
  package_not_allowed: { message: 'The package is not allowed on this daemon' },
  install_failed: { message: 'The install failed' },
  install_timeout: { message: 'The install ran longer than installTimeoutMs' },
  install_too_large: { message: 'The install is larger than maxPackageBytes' },
  invalid_arguments: { message: 'The arguments do not match the tool\'s parameters schema' },
  invalid_result: { message: 'The tool\'s result does not match its outputSchema' },
  budget_exceeded: { message: 'A budget of the execution\'s tool calls is spent' },
  approval_denied: { message: 'The call was denied by the client' },
} as const;

export type CodeErrorCode = keyof typeof CODE_ERRORS;

export interface WireErrorOptions {
  readonly cause?: unknown;
  /** When the client may try again (queue_full): `Retry-After` over HTTP, `retryAfterMs` on the WebSocket. */
  readonly retryAfterMs?: number;
}

// An error meant for a client: its code and message are safe to send as they are.
export class WireError extends Error {
  readonly code: WireErrorCode;
  readonly httpStatus: number;
  readonly retryAfterMs: number | undefined;
  constructor(code: WireErrorCode, message?: string, options: WireErrorOptions = {}) {
    super(message ?? WIRE_ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WireError';
    this.code = code;
    this.httpStatus = WIRE_ERRORS[code].httpStatus;
    this.retryAfterMs = options.retryAfterMs;
  }
}

// Turns any thrown value into what a client may see: WireErrors as they are, anything else as internal_error.
export function toWireError(error: unknown): WireError {
  return error instanceof WireError ? error : new WireError('internal_error');
}

// The JSON body of an error answer.
export function errorBody(error: WireError): { error: { code: WireErrorCode; message: string } } {
  return { error: { code: error.code, message: error.message } };
}

// A short description of a received value for error messages ("received an array"), never the whole value:
// what a client sent may be large or hostile.
export function describeReceived(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value).slice(0, 40)}`;
}
