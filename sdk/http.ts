// Plain HTTP requests to the daemon with global fetch: bearer token, a time limit, the caller's AbortSignal,
// and every failure turned into the matching RunboxError.

import { createRunboxError, RunboxAPIError } from './errors.js';
import { parseErrorBody } from './wire.js';

export interface HttpRequest {
  baseUrl: URL;
  /** Relative to baseUrl, already percent-encoded. */
  path: string;
  token: string | undefined;
  timeoutMs: number;
  /** @default 'GET' */
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Sent as `application/json` (`json`) or as raw `application/octet-stream` bytes (`bytes`). */
  body?: { json: unknown } | { bytes: Uint8Array };
  /** The `accept` header. @default any type (requestJson asks for `application/json`) */
  accept?: string;
  signal?: AbortSignal;
  /** Non-2xx statuses whose body is an answer rather than an error (GET /healthz's 503). */
  answerStatuses?: readonly number[];
}

/** A whole answer, read before the time limit ran out. */
export interface HttpResponse {
  status: number;
  /** The `content-type` header, as sent. */
  contentType: string | undefined;
  body: Buffer;
  /** The daemon's `x-request-id` header, when it sent one. */
  requestId: string | undefined;
}

// The request's subset that the client fills in for its sessions (URL, token and time limit come from the client).
export type DaemonRequest = Omit<HttpRequest, 'baseUrl' | 'token' | 'timeoutMs'>;

// Sends one request and reads the whole answer; rejects with a RunboxAPIError (status, code) for a non-2xx
// status, or with a connection, timeout or abort error.
export async function sendRequest(request: HttpRequest): Promise<HttpResponse> {
  const url = new URL(request.path, request.baseUrl);
  const method = request.method ?? 'GET';
  const { signal } = request;
  if (signal?.aborted) throw createRunboxError({ kind: 'abort', message: 'The request was aborted', cause: signal.reason });
  const controller = new AbortController();
  const timeout = createRunboxError({ kind: 'timeout', timeoutMs: request.timeoutMs, message: `${method} ${url.href} took longer than ${request.timeoutMs} ms` });
  const timer = setTimeout(() => controller.abort(timeout), request.timeoutMs);
  const onAbort = () => controller.abort(createRunboxError({ kind: 'abort', message: 'The request was aborted', cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const headers: Record<string, string> = { accept: request.accept ?? '*/*' };
    if (request.token) headers.authorization = `Bearer ${request.token}`;
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (request.body && 'json' in request.body) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body.json);
    } else if (request.body) {
      headers['content-type'] = 'application/octet-stream';
      const { bytes } = request.body;
      // fetch refuses views of a SharedArrayBuffer: those are copied, anything else is sent as it is.
      body = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
    }
    const response = await fetch(url, { method, headers, body, signal: controller.signal });
    const content = Buffer.from(await response.arrayBuffer());
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (!response.ok && !request.answerStatuses?.includes(response.status)) {
      const error = parseErrorBody(content.toString('utf8'));
      const retryAfter = Number(response.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
      throw createRunboxError({ kind: 'api', status: response.status, code: error.code ?? 'http_error', message: error.message ?? response.statusText, requestId, retryAfterMs });
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? undefined, body: content, requestId };
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    if (error instanceof RunboxAPIError) throw error;
    throw createRunboxError({ kind: 'connection', message: `Cannot reach the Runbox daemon at ${request.baseUrl.href}: ${describeCause(error)}`, cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

// Sends one request and parses its JSON answer; an answer that is not JSON is an `invalid_response` API error.
export async function requestJson(request: HttpRequest): Promise<unknown> {
  const response = await sendRequest({ ...request, accept: request.accept ?? 'application/json' });
  try {
    return JSON.parse(response.body.toString('utf8')) as unknown;
  } catch (cause) {
    const { pathname } = new URL(request.path, request.baseUrl);
    const message = `${request.method ?? 'GET'} ${pathname} answered with something that is not JSON`;
    throw createRunboxError({ kind: 'api', status: response.status, code: 'invalid_response', message, requestId: response.requestId, cause });
  }
}

// fetch hides the useful part (ECONNREFUSED...) in error.cause.
function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
