// Plain HTTP requests to the daemon with global fetch: bearer token, a time limit, the caller's AbortSignal,
// and every failure turned into the matching RunboxError.

import { createRunboxError, RunboxAPIError } from './errors.js';
import { parseErrorBody } from './wire.js';

export interface HttpRequest {
  baseUrl: URL;
  path: string;
  token: string | undefined;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Non-2xx statuses whose JSON body is an answer rather than an error (GET /healthz's 503). */
  answerStatuses?: readonly number[];
}

// GETs a JSON document; rejects with a RunboxAPIError (status, code), a connection, timeout or abort error.
export async function getJson(request: HttpRequest): Promise<unknown> {
  const url = new URL(request.path, request.baseUrl);
  const { signal } = request;
  if (signal?.aborted) throw createRunboxError({ kind: 'abort', message: 'The request was aborted', cause: signal.reason });
  const controller = new AbortController();
  const timeout = createRunboxError({ kind: 'timeout', timeoutMs: request.timeoutMs, message: `GET ${url.href} took longer than ${request.timeoutMs} ms` });
  const timer = setTimeout(() => controller.abort(timeout), request.timeoutMs);
  const onAbort = () => controller.abort(createRunboxError({ kind: 'abort', message: 'The request was aborted', cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.token) headers.authorization = `Bearer ${request.token}`;
    const response = await fetch(url, { headers, signal: controller.signal });
    const text = await response.text();
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (!response.ok && !request.answerStatuses?.includes(response.status)) {
      const body = parseErrorBody(text);
      const retryAfter = Number(response.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
      throw createRunboxError({ kind: 'api', status: response.status, code: body.code ?? 'http_error', message: body.message ?? response.statusText, requestId, retryAfterMs });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw createRunboxError({ kind: 'api', status: response.status, code: 'invalid_response', message: `GET ${url.pathname} answered with something that is not JSON`, requestId, cause });
    }
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    if (error instanceof RunboxAPIError) throw error;
    throw createRunboxError({ kind: 'connection', message: `Cannot reach the Runbox daemon at ${request.baseUrl.href}: ${describeCause(error)}`, cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

// fetch hides the useful part (ECONNREFUSED...) in error.cause.
function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
