// createDaemon(config, deps): gathers the host facts, proves the sandbox works, and serves the HTTP and
// WebSocket APIs. Everything it needs comes in as arguments, so a test can build one with its own overrides.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { checkDescriptorBudget, descriptorsNeeded, readDescriptorLimit } from './descriptors.js';
import { toWireError, WireError } from './errors.js';
import { isAuthorized } from './api/auth.js';
import { ConnectionGuard } from './api/connections.js';
import { handleCreateExecution } from './api/executions.js';
import { handleHealth, handleRuntimes } from './api/health.js';
import { rawErrorResponse, sendError, wireErrorOfClientError } from './api/respond.js';
import { allowedMethods, handleSessionRequest, parseSessionRoute } from './api/sessions.js';
import { handleWsConnection, WS_DEFAULTS, type WsLimits } from './api/ws.js';
import { PackageService } from './packages/service.js';
import { SessionManager } from './sessions/manager.js';
import { ExecutionService } from './executions/service.js';
import { checkHeldDirs } from './files/held-dir.js';
import { claimWorkDir, sweepLeftovers, WorkDirInUseError, type WorkDirClaim } from './executions/work-dir.js';
import { setUpCgroups, type SandboxCgroups } from './sandbox/cgroups.js';
import { closeInheritedDescriptors, detectHostLayout, ensureWorkDir, findMatplotlibCache, findRuntimeSources, prepareRuntimeDir, resolveExecutable } from './sandbox/host.js';
import { sandboxLimitsFrom, type SandboxFacts } from './sandbox/launch.js';
import { canMountWorkspaces, type WorkspaceSize } from './sandbox/mounts.js';
import { compilePythonBytecode, probeRuntimes, type RuntimeStatus } from './sandbox/probe.js';

export interface CloseOptions {
  /**
   * How long admitted executions (running and queued) may go on finishing; then they are cancelled. Meanwhile new
   * executions are refused with shutting_down and their results still reach their clients. A second call with a
   * shorter grace cuts the wait short. @default 0 (cancel at once)
   */
  readonly graceMs?: number;
}

export interface Daemon {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting work, drains or cancels the executions, waits for their cleanup, and closes. */
  close(options?: CloseOptions): Promise<void>;
  readonly runtimes: readonly RuntimeStatus[];
  readonly sandboxed: boolean;
}

/** Limits of WebSocket client connections that are not in the configuration table (tests lower them). */
export type ConnectionLimits = WsLimits;

export const CONNECTION_DEFAULTS: ConnectionLimits = WS_DEFAULTS;

export interface DaemonDeps {
  readonly logger: Logger;
  /** PATH used to find bubblewrap. @default process.env.PATH */
  readonly searchPath?: string;
  /** Overrides of the connection limits. @default CONNECTION_DEFAULTS */
  readonly connectionLimits?: Partial<ConnectionLimits>;
}

/** How long closing connections may take to say goodbye before they are cut. */
const CLOSE_CONNECTIONS_MS = 1000;

// A start-up problem the operator must fix; its message says how.
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const BWRAP_MISSING = (name: string) =>
  `bubblewrap (${name}) was not found, so Runbox refuses to run code. Install it with \`apt-get install bubblewrap\` ` +
  '(`npm start` does this through scripts/setup.sh), point RUNBOX_BWRAP at it, or pass --unsafe-no-sandbox for development only.';

// Builds a daemon: checks the sandbox and the runtimes, then returns a server ready to listen.
export async function createDaemon(config: Config, deps: DaemonDeps): Promise<Daemon> {
  const { logger } = deps;
  // Before any sandbox starts: descriptors this process inherited without close-on-exec would pass through
  // bubblewrap into every sandbox, so they are closed (the daemon never uses them).
  const closed = await closeInheritedDescriptors();
  if (closed.length > 0) logger.warn({ descriptors: closed }, 'closed descriptors inherited without close-on-exec');
  await checkDescriptors(config, logger);
  const bwrapPath = await findBubblewrap(config, deps);
  await ensureWorkDir(config.workDir);
  await checkHeldDirs(config.workDir).catch((error: unknown) => {
    throw new StartupError((error as Error).message);
  });
  const claim = await claimWorkDir(config.workDir).catch((error: unknown) => {
    throw error instanceof WorkDirInUseError ? new StartupError(error.message) : error;
  });
  try {
    // An earlier daemon on this work directory may have been killed mid-execution: its sandboxes died with it,
    // but their directories and sockets are still here.
    const swept = await sweepLeftovers(config.workDir);
    if (swept.length > 0) logger.warn({ swept }, 'removed execution directories left by an earlier daemon');
    // Cgroups: detected and proven once, with the groups of daemons that died swept (live ones are never touched).
    const cgroups = await setUpCgroups(logger);
    return await buildDaemon(config, deps, bwrapPath, claim, cgroups);
  } catch (error) {
    await claim.release();
    throw error;
  }
}

async function buildDaemon(config: Config, deps: DaemonDeps, bwrapPath: string | null, claim: WorkDirClaim, cgroups: SandboxCgroups | null): Promise<Daemon> {
  const { logger } = deps;
  const limits: ConnectionLimits = { ...CONNECTION_DEFAULTS, ...deps.connectionLimits };
  const facts = await gatherFacts(config, deps, bwrapPath);
  if (facts.bwrapPath === null) {
    logger.warn('UNSAFE: --unsafe-no-sandbox is set; code runs WITHOUT any sandbox, with the daemon\'s own rights. Never use this outside development.');
  }
  const runtimes = await probeRuntimes(facts, config.workDir);
  for (const runtime of runtimes) {
    if (runtime.available) logger.info({ runtime: runtime.name, version: runtime.version }, 'runtime ready');
    else logger.error({ runtime: runtime.name, problem: runtime.problem }, 'runtime unavailable');
  }
  const sessions = new SessionManager(config, { owner: facts.owner, workspaceSize: facts.workspaceSize ?? null }, logger);
  const packages = new PackageService(config, facts);
  const service = new ExecutionService({ config, facts, logger, cgroups, packages }, runtimes.filter((r) => r.available).map((r) => r.name), sessions);
  const state = { runtimes, closing: false, sandboxed: facts.bwrapPath !== null };
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxRequestBytes, perMessageDeflate: false });
  let connectionSeq = 0;

  const guard = new ConnectionGuard(config, logger);
  const server = http.createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // How often Node checks those two timeouts (its default, 30 s, would let a slow client stay much longer).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
      // Node would answer a missing Host with its own bare 400; route() answers it in the usual form instead.
      requireHostHeader: false,
    },
    (req, res) => {
      route(req, res).catch((error: unknown) => {
        if (!(error instanceof WireError)) logger.error({ err: error, method: req.method, url: req.url }, 'request failed');
        if (!res.headersSent && !res.destroyed) sendError(res, toWireError(error));
        else res.destroy();
      });
    },
  );

  // Every connection passes the caps before a byte of it is parsed (Node's own listener only set up its parser).
  server.on('connection', (socket: Socket) => guard.admit(socket));
  // Accepting can fail for want of descriptors when libuv's reserve is spent too: one refused connection, logged.
  server.on('error', (error) => logger.error({ err: error }, 'the HTTP server reported an error'));

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.httpVersionMinor >= 1 && req.headers.host === undefined) throw new WireError('invalid_request', 'an HTTP/1.1 request needs a Host header');
    const pathname = pathnameOf(req.url);
    const sessionRoute = parseSessionRoute(req.url ?? '');
    const allowed = sessionRoute ? allowedMethods(sessionRoute) : Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined;
    if (!allowed) throw new WireError('not_found', `no route ${pathname}; see docs/protocol.md`);
    if (!isAuthorized(req, config.token)) throw new WireError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <RUNBOX_TOKEN>)');
    guard.trust(req.socket);
    if (!allowed.split(', ').includes(req.method ?? '')) {
      res.setHeader('allow', allowed);
      throw new WireError('method_not_allowed', `${req.method} is not allowed on ${pathname}; use ${allowed}`);
    }
    if (sessionRoute) {
      if (state.closing) throw new WireError('shutting_down', 'the daemon is shutting down; its sessions are being removed');
      return handleSessionRequest(req, res, sessionRoute, { config, sessions, owner: facts.owner });
    }
    if (pathname === '/healthz') return handleHealth(res, state);
    if (pathname === '/v1/runtimes') return handleRuntimes(res, state);
    // Refused before its body is read: a draining daemon has no use for it.
    if (state.closing) throw new WireError('shutting_down', 'the daemon is shutting down and accepts no new executions');
    return handleCreateExecution(req, res, { config, service, availability: state });
  };

  server.on('upgrade', (req, socket, head) => {
    const pathname = pathnameOf(req.url);
    const refuse = (error: WireError) => refuseSocket(socket, error);
    if (pathname !== '/v1/ws') return refuse(new WireError('not_found', `no WebSocket route ${pathname}; use /v1/ws`));
    if (!isAuthorized(req, config.token)) return refuse(new WireError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <RUNBOX_TOKEN>)'));
    guard.trust(socket as Socket);
    if (state.closing) return refuse(new WireError('shutting_down', 'the daemon is shutting down'));
    wss.handleUpgrade(req, socket, head, (ws) => {
      handleWsConnection(ws, { config, service, availability: state, limits, logger: logger.child({ connection: ++connectionSeq }) });
    });
  });
  // A broken WebSocket handshake (no key, wrong version): answered like every other error, not in ws's own form.
  wss.on('wsClientError', (error, socket) => refuseSocket(socket, new WireError('invalid_request', `WebSocket handshake refused: ${error.message}`)));
  // CONNECT (a proxy request) and Expect headers other than 100-continue: refused in the usual form, where
  // Node would close the socket silently or answer 417 without a body.
  server.on('connect', (req, socket) => refuseSocket(socket, new WireError('method_not_allowed', `${req.method} is not allowed; see docs/protocol.md`)));
  server.on('checkExpectation', (req, res) => {
    sendError(res, new WireError('invalid_request', `Expect: ${String(req.headers.expect).slice(0, 40)} is not supported; send the body without it`));
  });
  // Malformed HTTP, headers too large, or a request that did not arrive within its time: answered in the usual
  // JSON error form (unless a response is already under way on that connection), then the connection is closed.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const wire = wireErrorOfClientError(error);
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (wire && !inFlight?.headersSent) refuseSocket(socket, wire);
    else socket.destroy();
  });

  // Stops listening; WebSocket clients get a close frame (1001), the rest is cut after a short wait.
  const closeConnections = async (): Promise<void> => {
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    const clients = [...wss.clients];
    const wsClosed = Promise.all(clients.map((client) => new Promise((resolve) => {
      if (client.readyState === client.CLOSED) return resolve(undefined);
      client.once('close', resolve);
      client.close(1001, 'the daemon is shutting down');
    })));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([serverClosed, wsClosed]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_CONNECTIONS_MS)))]);
    clearTimeout(timer);
    for (const client of clients) client.terminate();
    server.closeAllConnections();
    await serverClosed;
  };

  let closed: Promise<void> | null = null;
  return {
    runtimes,
    sandboxed: state.sandboxed,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          const address = server.address() as AddressInfo;
          resolve({ host: address.address, port: address.port });
        });
      }),
    close: (options = {}) => {
      state.closing = true;
      const drained = service.drain(options.graceMs ?? 0);
      closed ??= (async () => {
        await drained;
        await sessions.close();
        await closeConnections();
        // Whatever a failed clean-up left (an unmount given up while the daemon was out of descriptors): swept now,
        // as the next daemon would, so a closed daemon leaves no mount behind.
        const swept = await sweepLeftovers(config.workDir).catch((error: unknown) => {
          logger.error({ err: error }, 'could not sweep the work directory at shutdown');
          return [];
        });
        if (swept.length > 0) logger.warn({ swept }, 'removed what clean-up had left in the work directory');
        await claim.release();
      })();
      return closed;
    },
  };
}

// Answers a socket no ServerResponse owns with a wire error and closes it. Such a socket (a refused upgrade or
// CONNECT, a malformed request) is no longer read by the HTTP server, so it is drained here until the client's
// end, and cut after a short wait: a half-closed socket nobody reads would keep server.close() waiting forever.
function refuseSocket(socket: Duplex, error: WireError): void {
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawErrorResponse(error));
  socket.resume();
  setTimeout(() => socket.destroy(), CLOSE_CONNECTIONS_MS).unref();
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

const ROUTES: Record<string, string> = {
  '/healthz': 'GET',
  '/v1/runtimes': 'GET',
  '/v1/executions': 'POST',
};

// Refuses to start when the connection and execution caps could take the daemon to its descriptor limit (where a
// spawn, an accept or an open would fail): they must leave a reserve for its own work.
async function checkDescriptors(config: Config, logger: Logger): Promise<void> {
  const limit = await readDescriptorLimit();
  if (!limit) return logger.warn('could not read RLIMIT_NOFILE from /proc/self/limits; the connection caps are not checked against it');
  const problem = checkDescriptorBudget(config, limit.soft);
  if (problem) throw new StartupError(problem);
  logger.debug({ limit, needed: descriptorsNeeded(config) }, 'descriptor budget');
}

// The bubblewrap binary, null under --unsafe-no-sandbox; a StartupError saying how to install it when missing.
async function findBubblewrap(config: Config, deps: DaemonDeps): Promise<string | null> {
  if (config.unsafeNoSandbox) return null;
  const bwrapPath = await resolveExecutable(config.bwrapPath, deps.searchPath ?? process.env.PATH);
  if (!bwrapPath) throw new StartupError(BWRAP_MISSING(config.bwrapPath));
  return bwrapPath;
}

// The size of workspace tmpfs mounts when this daemon can mount them (it is root and mount works), else null
// with a warning: workspaces are then plain directories limited only per file (fileSizeBytes).
async function workspaceSizeIfMountable(config: Config, logger: Logger, isRoot: boolean): Promise<WorkspaceSize | null> {
  const unlimited = 'workspaces are plain directories: their total size and file count are not limited (only each file, by fileSizeBytes)';
  if (!isRoot) {
    logger.warn(`not running as root: ${unlimited}`);
    return null;
  }
  const probe = await canMountWorkspaces(config.workDir);
  if (!probe.ok) {
    logger.warn({ problem: probe.problem }, `could not mount a tmpfs: ${unlimited}`);
    return null;
  }
  return { bytes: config.workspaceBytes, files: config.workspaceFiles };
}

// Everything about the host that launches need, checked once.
async function gatherFacts(config: Config, deps: DaemonDeps, bwrapPath: string | null): Promise<SandboxFacts> {
  const runtimeDir = await prepareRuntimeDir(config.workDir, await findRuntimeSources(), async (dir) => {
    if (!(await compilePythonBytecode(config.pythonEnv, dir))) deps.logger.warn({ dir }, 'could not precompile the Python prelude; Python executions start a few ms slower');
  });
  const isRoot = process.getuid?.() === 0;
  return {
    bwrapPath,
    layout: await detectHostLayout(),
    runtimeDir,
    pythonEnv: path.normalize(config.pythonEnv),
    nodePath: config.nodePath,
    matplotlibCache: await findMatplotlibCache(config.pythonEnv),
    limits: sandboxLimitsFrom(config),
    workspaceSize: await workspaceSizeIfMountable(config, deps.logger, isRoot),
    ...(isRoot ? { owner: { uid: config.sandboxUid, gid: config.sandboxGid } } : {}),
  };
}
