// The x-request-id of an answer: a client's own id when it is well formed (so the client can match our log to
// its own), else a fresh UUID. A client's id reaches the log and the answer only after this check, so it can
// carry no newline, space or markup, and no more than 128 characters.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

// True for an id the daemon echoes: 1-128 characters of letters, digits and `._:-`.
export function isWellFormedRequestId(value: unknown): value is string {
  return typeof value === 'string' && WELL_FORMED.test(value);
}

// The request's id: the client's x-request-id when well formed (and sent once), else a fresh one.
export function requestIdOf(headers: http.IncomingHttpHeaders | undefined): string {
  const given = headers?.[REQUEST_ID_HEADER];
  return isWellFormedRequestId(given) ? given : randomUUID();
}
