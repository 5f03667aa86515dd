// The one route table of the daemon's API: each route's pattern, the methods it answers with their handlers, and
// what it does while the daemon closes. matchRoute is pure; daemon/api/dispatch.ts runs the checks around it.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { WireError } from '../errors.js';
import type { ExecutionService } from '../executions/service.js';
import type { SessionManager } from '../sessions/manager.js';
import type { ClosingRefusal, DaemonState } from './availability.js';
import { handleCreateExecution } from './executions.js';
import { handleHealth, handleRuntimes } from './health.js';
import { handleCreateSession, handleDeleteFile, handleDeleteSession, handleGetFile, handleGetSession, handleListFiles, handlePutFile } from './sessions.js';

/** What the handlers serve with: the daemon's configuration, services and state. */
export interface ApiContext {
  readonly config: Config;
  readonly service: ExecutionService;
  readonly sessions: SessionManager;
  /** The sandbox user that owns uploaded files (when the daemon is root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly state: DaemonState;
  /** The /mcp endpoint (daemon/mcp/http.ts, a layer above this one, hands it in); absent, /mcp is not_found. */
  readonly mcp?: McpEndpoint;
}

/** What serves MCP's Streamable HTTP transport at /mcp (after the route's token check). */
export interface McpEndpoint {
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

/** One request as a handler gets it: its parameters from the pattern, and its child logger (with its requestId). */
export interface RouteRequest {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly requestId: string;
}

export type RouteHandler = (request: RouteRequest, api: ApiContext) => Promise<void> | void;

interface RouteBase {
  /** `:name` is one path segment, `*name` the rest of the path (at least one character). */
  readonly pattern: string;
  /** Matched against the request target as the client sent it (only its query cut off), not against the
   * normalized URL path: a `..` or `%2e%2e` in a file path then reaches the file path rules (invalid_path)
   * instead of resolving to another route. */
  readonly rawTarget?: boolean;
  /** The pattern also matches with one `/` after it. */
  readonly trailingSlash?: boolean;
  /** What a closing daemon does with it: null still answers, else the work it refuses with shutting_down. */
  readonly whenClosing: ClosingRefusal;
}

/** A route of plain HTTP requests. Its methods, in the order the Allow header names them. */
export interface HttpRoute extends RouteBase {
  readonly kind: 'http';
  readonly methods: Readonly<Record<string, RouteHandler>>;
}

/** The route of WebSocket upgrades (served by the daemon's WebSocket server, daemon/api/ws.ts). */
export interface UpgradeRoute extends RouteBase {
  readonly kind: 'upgrade';
}

export type Route = HttpRoute | UpgradeRoute;

const sessionsDeps = (api: ApiContext) => ({ config: api.config, sessions: api.sessions, owner: api.owner });

/** First match wins: the raw-target routes come first, so that no `..` in one of them resolves to a later one. */
export const ROUTES: readonly Route[] = [
  {
    kind: 'http', pattern: '/v1/sessions', rawTarget: true, trailingSlash: true, whenClosing: 'session',
    methods: { POST: ({ req, res }, api) => handleCreateSession(req, res, sessionsDeps(api)) },
  },
  {
    kind: 'http', pattern: '/v1/sessions/:id', rawTarget: true, whenClosing: 'session',
    methods: {
      GET: ({ res, params }, api) => handleGetSession(res, params.id, sessionsDeps(api)),
      DELETE: ({ res, params }, api) => handleDeleteSession(res, params.id, sessionsDeps(api)),
    },
  },
  {
    kind: 'http', pattern: '/v1/sessions/:id/files', rawTarget: true, trailingSlash: true, whenClosing: 'session',
    methods: { GET: ({ res, params }, api) => handleListFiles(res, params.id, sessionsDeps(api)) },
  },
  {
    kind: 'http', pattern: '/v1/sessions/:id/files/*path', rawTarget: true, whenClosing: 'session',
    methods: {
      GET: ({ res, params }, api) => handleGetFile(res, params.id, params.path, sessionsDeps(api)),
      PUT: ({ req, res, params }, api) => handlePutFile(req, res, params.id, params.path, sessionsDeps(api)),
      DELETE: ({ res, params }, api) => handleDeleteFile(res, params.id, params.path, sessionsDeps(api)),
    },
  },
  { kind: 'http', pattern: '/healthz', whenClosing: null, methods: { GET: ({ res }, api) => handleHealth(res, api.state) } },
  { kind: 'http', pattern: '/v1/runtimes', whenClosing: null, methods: { GET: ({ res }, api) => handleRuntimes(res, api.state) } },
  {
    // Refused while closing before its body is read: a draining daemon has no use for it.
    kind: 'http', pattern: '/v1/executions', whenClosing: 'execution',
    methods: { POST: ({ req, res, log }, api) => handleCreateExecution(req, res, { config: api.config, service: api.service, state: api.state, log }) },
  },
  {
    // MCP over Streamable HTTP, stateless: POST carries each JSON-RPC message; GET (a server-sent stream) and
    // DELETE (ending an MCP session) have nothing to serve without MCP sessions, so they get 405 as the spec allows.
    kind: 'http', pattern: '/mcp', whenClosing: 'execution',
    methods: { POST: ({ req, res }, api) => serveMcp(req, res, api) },
  },
  { kind: 'upgrade', pattern: '/v1/ws', whenClosing: 'connection' },
];

// Hands /mcp to its endpoint, or answers not_found on a daemon built without one.
function serveMcp(req: http.IncomingMessage, res: http.ServerResponse, api: ApiContext): Promise<void> {
  if (!api.mcp) throw new WireError('not_found', 'this daemon serves no /mcp');
  return api.mcp.handle(req, res);
}

export interface RouteMatch<R extends Route = Route> {
  /** The route, or null when none matches (404). */
  readonly route: R | null;
  readonly params: Readonly<Record<string, string>>;
  /** The normalized path of the target, for messages. */
  readonly pathname: string;
}

// Pure: the route of a request target among the plain HTTP routes or the upgrade ones, with its parameters.
export function matchRoute(kind: 'http', target: string | undefined, routes?: readonly Route[]): RouteMatch<HttpRoute>;
export function matchRoute(kind: 'upgrade', target: string | undefined, routes?: readonly Route[]): RouteMatch<UpgradeRoute>;
export function matchRoute(kind: Route['kind'], target: string | undefined, routes: readonly Route[] = ROUTES): RouteMatch {
  const raw = (target ?? '/').split('?')[0];
  const pathname = pathnameOf(target);
  for (const route of routes) {
    if (route.kind !== kind) continue;
    const found = compiled(route).exec(route.rawTarget ? raw : pathname);
    if (found) return { route, params: { ...found.groups }, pathname };
  }
  return { route: null, params: {}, pathname };
}

// The methods a route answers, as its Allow header names them.
export function allowedMethods(route: HttpRoute): string {
  return Object.keys(route.methods).join(', ');
}

// The handler of a method on a route, or null (405).
export function handlerOf(route: HttpRoute, method: string | undefined): RouteHandler | null {
  return method !== undefined && Object.hasOwn(route.methods, method) ? route.methods[method] : null;
}

// A route's pattern as a regular expression with one named group per parameter.
function compiled(route: Route): RegExp {
  const source = route.pattern
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return `(?<${segment.slice(1)}>[^/]*)`;
      if (segment.startsWith('*')) return `(?<${segment.slice(1)}>.+)`;
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}${route.trailingSlash ? '/?' : ''}$`);
}

// The path of a request target, whatever the client sent: a target that is not a URL (`http://[`) is no route
// (new URL would throw, which in the upgrade handler would take the daemon down).
function pathnameOf(target: string | undefined): string {
  try {
    return new URL(target ?? '/', 'http://runbox').pathname;
  } catch {
    return '(not a URL)';
  }
}
