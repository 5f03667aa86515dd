// createDaemon(config, deps): prepares the host (daemon/startup.ts), then serves the HTTP and WebSocket APIs
// through the route table (daemon/api/routes.ts) until close(). Everything it needs comes in as arguments, so a
// test can build one with its own overrides.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { toWireError, WireError } from './errors.js';
import { ConnectionGuard } from './api/connections.js';
import { admitUpgrade, dispatchRequest, type DispatchContext } from './api/dispatch.js';
import { refuseSocket, sendError, wireErrorOfClientError } from './api/respond.js';
import { REQUEST_ID_HEADER, requestIdOf } from './api/request-id.js';
import { handleWsConnection } from './api/ws.js';
import { SchemaCompiler } from './tool-schemas.js';
import { sweepLeftovers } from './executions/work-dir.js';
import { ExecutionService } from './executions/service.js';
import { PackageService } from './packages/service.js';
import type { RuntimeStatus } from './sandbox/probe.js';
import { SessionManager } from './sessions/manager.js';
import { createMcpHttpEndpoint, loopbackUrl } from './mcp/http.js';
import { prepareHost, StartupError, type PreparedHost, type StartupDeps } from './startup.js';
import type { UpstreamTools } from './mcp/stdio.js';

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

/** What a daemon is built with besides its configuration: the root logger, and where to look for bubblewrap. */
export type DaemonDeps = StartupDeps;

/** How long closing connections may take to say goodbye before they are cut. */
const CLOSE_CONNECTIONS_MS = 1000;

// Builds a daemon: checks the sandbox and the runtimes, then returns a server ready to listen.
export async function createDaemon(config: Config, deps: DaemonDeps): Promise<Daemon> {
  const host = await prepareHost(config, deps);
  let upstream: UpstreamTools | undefined;
  try {
    if (config.mcpConfig !== '') upstream = await connectUpstreamAtStart(config.mcpConfig, deps.logger);
    return serve(config, deps.logger, host, upstream);
  } catch (error) {
    // What prepareHost started goes as close() would take it: the fork server, its bind of the work directory,
    // then the mount helper that unmounted it.
    await upstream?.close();
    await host.forkServer?.close();
    await host.plainForkServer?.close();
    await sweepLeftovers(config.workDir, host.mounter).catch((sweepError: unknown) => deps.logger.error({ err: sweepError }, 'could not sweep the work directory after a failed start'));
    await host.mounter?.close();
    await host.claim.release();
    throw error;
  }
}

// The upstream MCP servers of `mcpConfig`, connected before the daemon listens; a failure is a StartupError.
async function connectUpstreamAtStart(file: string, logger: Logger): Promise<UpstreamTools> {
  try {
    // Loaded only when there is an mcpConfig: the MCP client is megabytes a daemon without one never needs.
    const { connectUpstream } = await import('./mcp/upstream.js');
    const upstream = await connectUpstream(file);
    logger.info({ mcpConfig: file, servers: upstream.summary }, 'connected the upstream MCP servers');
    return upstream;
  } catch (error) {
    throw new StartupError((error as Error).message);
  }
}

// The serving daemon: its services, the HTTP server with its upgrade and error handling, and close().
function serve(config: Config, logger: Logger, host: PreparedHost, upstream: UpstreamTools | undefined): Daemon {
  const { facts, runtimes, cgroups, claim, forkServer, plainForkServer, mounter, executionsDir } = host;
  const sessions = new SessionManager(config, { owner: facts.owner, workspaceSize: facts.workspaceSize ?? null, mounter }, logger);
  const packages = new PackageService(config, facts);
  const service = new ExecutionService({ config, facts, logger, cgroups, packages, forkServer, plainForkServer, mounter, executionsDir }, runtimes.filter((r) => r.available).map((r) => r.name), sessions);
  const state = { runtimes, sandboxed: facts.bwrapPath !== null, closing: false };
  const guard = new ConnectionGuard(config, logger);
  // /mcp's client reaches this daemon on loopback, at the address it listens on.
  const selfUrl = () => {
    const address = server.address() as AddressInfo;
    return loopbackUrl(address.address, address.port);
  };
  const mcp = createMcpHttpEndpoint({ config, logger: logger.child({ route: '/mcp' }), selfUrl, tools: upstream?.tools });
  const context: DispatchContext = { config, service, sessions, owner: facts.owner, state, logger, guard, mcp };
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxRequestBytes, perMessageDeflate: false });
  /** The request id of each upgrade under way, for its 101 answer or its refusal. */
  const upgradeIds = new WeakMap<http.IncomingMessage, string>();
  let connectionSeq = 0;
  // Tool schemas compiled for this daemon's executions, kept by their text (clients declare the same tools again).
  const schemas = new SchemaCompiler();

  const server = http.createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // How often Node checks those two timeouts (its default, 30 s, would let a slow client stay much longer).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
      // Node would answer a missing Host with its own bare 400; dispatchRequest answers it in the usual form instead.
      requireHostHeader: false,
    },
    (req, res) => void dispatchRequest(req, res, context),
  );

  // Every connection passes the caps before a byte of it is parsed (Node's own listener only set up its parser).
  server.on('connection', (socket: Socket) => guard.admit(socket));
  // Accepting can fail for want of descriptors when libuv's reserve is spent too: one refused connection, logged.
  server.on('error', (error) => logger.error({ err: error }, 'the HTTP server reported an error'));

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const requestId = requestIdOf(req.headers);
    try {
      admitUpgrade(req, socket as Socket, context);
    } catch (error) {
      return refuseSocket(socket, toWireError(error), requestId);
    }
    upgradeIds.set(req, requestId);
    wss.handleUpgrade(req, socket, head, (ws) => {
      handleWsConnection(ws, { config, service, state, schemas, logger: logger.child({ connection: ++connectionSeq, requestId }) });
    });
  });
  // The 101 answer carries the upgrade's request id too.
  wss.on('headers', (headers, req) => headers.push(`${REQUEST_ID_HEADER}: ${upgradeIds.get(req) ?? requestIdOf(req.headers)}`));
  // A broken WebSocket handshake (no key, wrong version): answered like every other error, not in ws's own form.
  wss.on('wsClientError', (error, socket, req) => {
    refuseSocket(socket, new WireError('invalid_request', `WebSocket handshake refused: ${error.message}`), upgradeIds.get(req) ?? requestIdOf(req.headers));
  });
  // CONNECT (a proxy request) and Expect headers other than 100-continue: refused in the usual form, where
  // Node would close the socket silently or answer 417 without a body.
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    refuseSocket(socket, new WireError('method_not_allowed', `${req.method} is not allowed; see docs/protocol.md`), requestIdOf(req.headers));
  });
  server.on('checkExpectation', (req, res) => {
    res.setHeader(REQUEST_ID_HEADER, requestIdOf(req.headers));
    sendError(res, new WireError('invalid_request', `Expect: ${String(req.headers.expect).slice(0, 40)} is not supported; send the body without it`));
  });
  // Malformed HTTP, headers too large, or a request that did not arrive within its time: answered in the usual
  // JSON error form (unless a response is already under way on that connection), then the connection is closed.
  // Its headers were never parsed, so its request id is a fresh one.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const wire = wireErrorOfClientError(error);
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (wire && !inFlight?.headersSent) refuseSocket(socket, wire, requestIdOf(undefined));
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
      // From here the closing gate (daemon/api/availability.ts) refuses new work; draining runs what was admitted.
      state.closing = true;
      const drained = service.drain(options.graceMs ?? 0);
      closed ??= (async () => {
        await drained;
        await mcp.close();
        await upstream?.close();
        await sessions.close();
        await forkServer?.close();
        await plainForkServer?.close();
        await closeConnections();
        // Whatever a failed clean-up left (an unmount given up while the daemon was out of descriptors): swept now,
        // as the next daemon would, so a closed daemon leaves no mount behind (the fork server's bind of the work
        // directory onto itself included).
        const swept = await sweepLeftovers(config.workDir, mounter).catch((error: unknown) => {
          logger.error({ err: error }, 'could not sweep the work directory at shutdown');
          return [];
        });
        if (swept.length > 0) logger.warn({ swept }, 'removed what clean-up had left in the work directory');
        // The mount helper goes last, not with the fork server: the sweep just above unmounts through it.
        await mounter?.close();
        await claim.release();
      })();
      return closed;
    },
  };
}
