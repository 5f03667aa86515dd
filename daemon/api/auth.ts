// Bearer-token check shared by HTTP requests and WebSocket upgrades. Tokens are compared in constant time
// and never logged.
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

// True when no token is configured, or the request carries exactly `Authorization: Bearer <token>`.
export function isAuthorized(req: http.IncomingMessage, token: string): boolean {
  if (!token) return true;
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(req.headers.authorization ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
