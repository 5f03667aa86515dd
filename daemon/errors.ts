// The one registry of errors that cross the wire: stable codes, HTTP statuses and default messages.
// docs/errors.md documents every entry; keep the two in step.

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
  // Tool-call errors delivered to the code inside the sandbox (never an HTTP status of their own).
  unknown_tool: { httpStatus: 400, message: 'The tool was not declared for this execution' },
  no_client: { httpStatus: 400, message: 'No client is connected to answer tool calls' },
  tool_error: { httpStatus: 400, message: 'The tool failed' },
} as const;

export type WireErrorCode = keyof typeof WIRE_ERRORS;

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
