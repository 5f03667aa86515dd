// Runs a request through the route table (daemon/api/routes.ts): the Host header, the route (404), the token
// (401), the method (405 with Allow), then the closing gate (daemon/api/availability.ts), then the route's
// handler. Every answer carries x-request-id, and each request logs through its own child logger.
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { toWireError, WireError } from '../errors.js';
import { checkAuthorized } from './auth.js';
import { checkOpenFor } from './availability.js';
import type { ConnectionGuard } from './connections.js';
import { sendError } from './respond.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { allowedMethods, handlerOf, matchRoute, type ApiContext, type UpgradeRoute } from './routes.js';

export interface DispatchContext extends ApiContext {
  readonly logger: Logger;
  /** Trusts a connection once it has sent a request with the right token. */
  readonly guard: ConnectionGuard;
}

// Serves one HTTP request; never rejects (a failure is answered as a wire error, an unexpected one also logged).
export async function dispatchRequest(req: http.IncomingMessage, res: http.ServerResponse, context: DispatchContext): Promise<void> {
  const requestId = requestIdOf(req.headers);
  res.setHeader(REQUEST_ID_HEADER, requestId);
  const { route, params, pathname } = matchRoute('http', req.url);
  const log = context.logger.child({ requestId, method: req.method, route: route?.pattern ?? null });
  try {
    if (req.httpVersionMinor >= 1 && req.headers.host === undefined) throw new WireError('invalid_request', 'an HTTP/1.1 request needs a Host header');
    if (!route) throw new WireError('not_found', `no route ${pathname}; see docs/protocol.md`);
    checkAuthorized(req, context.config.token);
    context.guard.trust(req.socket);
    const handler = handlerOf(route, req.method);
    if (!handler) {
      res.setHeader('allow', allowedMethods(route));
      throw new WireError('method_not_allowed', `${req.method} is not allowed on ${pathname}; use ${allowedMethods(route)}`);
    }
    checkOpenFor(context.state, route.whenClosing);
    await handler({ req, res, params, log, requestId }, context);
  } catch (error) {
    if (!(error instanceof WireError)) log.error({ err: error, url: req.url }, 'request failed');
    if (!res.headersSent && !res.destroyed) sendError(res, toWireError(error));
    else res.destroy();
  }
}

// Decides a WebSocket upgrade: the route (404), the token (401), then the closing gate. Throws the WireError to
// answer; a connection with the right token is trusted from then on.
export function admitUpgrade(req: http.IncomingMessage, socket: Socket, context: DispatchContext): UpgradeRoute {
  const { route, pathname } = matchRoute('upgrade', req.url);
  if (!route) throw new WireError('not_found', `no WebSocket route ${pathname}; use /v1/ws`);
  checkAuthorized(req, context.config.token);
  context.guard.trust(socket);
  checkOpenFor(context.state, route.whenClosing);
  return route;
}
