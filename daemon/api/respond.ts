// Writing JSON answers and wire errors on plain HTTP.
import type http from 'node:http';
import { errorBody, type WireError } from '../errors.js';

// Sends a JSON answer.
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// Sends a wire error; an oversized body also closes the connection, since the rest of it was never read.
export function sendError(res: http.ServerResponse, error: WireError): void {
  const headers: Record<string, string> = error.code === 'payload_too_large' ? { connection: 'close' } : {};
  if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  sendJson(res, error.httpStatus, errorBody(error), headers);
}
