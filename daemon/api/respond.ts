// Writing JSON answers and wire errors on plain HTTP, through a response or straight onto a raw socket.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, WireError } from '../errors.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/** How long a refused socket may take to read its answer and close before it is cut. */
const REFUSED_SOCKET_CLOSE_MS = 1000;

// Sends a JSON answer.
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// Sends a wire error. An oversized body also closes the connection, since the rest of it was never read, and so
// does shutting_down (the body may be unread too, and the client should find another daemon).
export function sendError(res: http.ServerResponse, error: WireError): void {
  sendJson(res, error.httpStatus, errorBody(error), errorHeaders(error));
}

// A whole HTTP/1.1 error response for a socket no ServerResponse owns (a refused upgrade, a malformed request).
export function rawErrorResponse(error: WireError, requestId: string): string {
  const body = JSON.stringify(errorBody(error));
  const reason = http.STATUS_CODES[error.httpStatus] ?? 'Error';
  const headers = {
    ...errorHeaders(error),
    connection: 'close',
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    [REQUEST_ID_HEADER]: requestId,
  };
  return `HTTP/1.1 ${error.httpStatus} ${reason}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`;
}

// Answers a socket no ServerResponse owns with a wire error and closes it. Such a socket (a refused upgrade or
// CONNECT, a malformed request) is no longer read by the HTTP server, so it is drained here until the client's
// end, and cut after a short wait: a half-closed socket nobody reads would keep server.close() waiting forever.
export function refuseSocket(socket: Duplex, error: WireError, requestId: string): void {
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawErrorResponse(error, requestId));
  socket.resume();
  setTimeout(() => socket.destroy(), REFUSED_SOCKET_CLOSE_MS).unref();
}

// What Node's HTTP parser or its timeouts reported, as the error to answer; null when the client is gone anyway.
export function wireErrorOfClientError(error: NodeJS.ErrnoException): WireError | null {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return null;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new WireError('request_timeout', 'the request (headers and body) did not arrive in time; the connection is closed');
    case 'HPE_HEADER_OVERFLOW':
      return new WireError('headers_too_large', 'the request headers are larger than allowed; the connection is closed');
    default:
      return new WireError('invalid_request', `malformed HTTP request (${error.code ?? 'parse error'}); the connection is closed`);
  }
}

function errorHeaders(error: WireError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.code === 'payload_too_large' || error.code === 'shutting_down') headers.connection = 'close';
  if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  if (error.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  return headers;
}
