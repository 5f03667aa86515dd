// Bearer-token check shared by HTTP requests and WebSocket upgrades. Tokens are compared in constant time
// (daemon/secrets.ts) and never logged.
import type http from 'node:http';
import { WireError } from '../errors.js';
import { bearerTokenMatches } from '../secrets.js';

// True when no token is configured, or the request carries exactly `Authorization: Bearer <token>`.
export function isAuthorized(req: http.IncomingMessage, token: string): boolean {
  return !token || bearerTokenMatches(req.headers.authorization, token);
}

// Throws unauthorized (401, WWW-Authenticate: Bearer) unless the request is authorized.
export function checkAuthorized(req: http.IncomingMessage, token: string): void {
  if (!isAuthorized(req, token)) throw new WireError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <RUNBOX_TOKEN>)');
}
