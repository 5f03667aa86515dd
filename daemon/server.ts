// createDaemon(config, deps): gathers the host facts, proves the sandbox works, and serves the HTTP and
// WebSocket APIs. Everything it needs comes in as arguments, so a test can build one with its own overrides.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { errorBody, toWireError, WireError } from './errors.js';
import { isAuthorized } from './api/auth.js';
import { handleCreateExecution } from './api/executions.js';
import { handleHealth, handleRuntimes } from './api/health.js';
import { sendError } from './api/respond.js';
import { handleWsConnection } from './api/ws.js';
import { ExecutionService } from './executions/service.js';
import { detectHostLayout, ensureWorkDir, findMatplotlibCache, findRuntimeSources, prepareRuntimeDir, resolveExecutable } from './sandbox/host.js';
import type { SandboxFacts } from './sandbox/launch.js';
import { compilePythonBytecode, probeRuntimes, type RuntimeStatus } from './sandbox/probe.js';

export interface Daemon {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting work, cancels running executions, waits for their cleanup, and closes. */
  close(): Promise<void>;
  readonly runtimes: readonly RuntimeStatus[];
  readonly sandboxed: boolean;
}

export interface DaemonDeps {
  readonly logger: Logger;
  /** PATH used to find bubblewrap. @default process.env.PATH */
  readonly searchPath?: string;
}

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
  const facts = await gatherFacts(config, deps);
  if (facts.bwrapPath === null) {
    logger.warn('UNSAFE: --unsafe-no-sandbox is set; code runs WITHOUT any sandbox, with the daemon\'s own rights. Never use this outside development.');
  }
  const runtimes = await probeRuntimes(facts, config.workDir);
  for (const runtime of runtimes) {
    if (runtime.available) logger.info({ runtime: runtime.name, version: runtime.version }, 'runtime ready');
    else logger.error({ runtime: runtime.name, problem: runtime.problem }, 'runtime unavailable');
  }
  const service = new ExecutionService({ config, facts, logger }, runtimes.filter((r) => r.available).map((r) => r.name));
  const state = { runtimes, closing: false, sandboxed: facts.bwrapPath !== null };
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxRequestBytes, perMessageDeflate: false });
  let connectionSeq = 0;

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!(error instanceof WireError)) logger.error({ err: error, method: req.method, url: req.url }, 'request failed');
      if (!res.headersSent && !res.destroyed) sendError(res, toWireError(error));
      else res.destroy();
    });
  });

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const pathname = new URL(req.url ?? '/', 'http://runbox').pathname;
    const allowed = ROUTES[pathname];
    if (!allowed) throw new WireError('not_found', `no route ${pathname}; see docs/protocol.md`);
    if (!isAuthorized(req, config.token)) throw new WireError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <RUNBOX_TOKEN>)');
    if (req.method !== allowed) {
      res.setHeader('allow', allowed);
      throw new WireError('method_not_allowed', `${req.method} is not allowed on ${pathname}; use ${allowed}`);
    }
    if (pathname === '/healthz') return handleHealth(res, state);
    if (pathname === '/v1/runtimes') return handleRuntimes(res, state);
    return handleCreateExecution(req, res, { config, service, availability: state });
  };

  server.on('upgrade', (req, socket, head) => {
    const pathname = new URL(req.url ?? '/', 'http://runbox').pathname;
    const refuse = (error: WireError) => {
      const body = JSON.stringify(errorBody(error));
      const reason = http.STATUS_CODES[error.httpStatus] ?? 'Error';
      socket.end(`HTTP/1.1 ${error.httpStatus} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (pathname !== '/v1/ws') return refuse(new WireError('not_found', `no WebSocket route ${pathname}; use /v1/ws`));
    if (!isAuthorized(req, config.token)) return refuse(new WireError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <RUNBOX_TOKEN>)'));
    if (state.closing) return refuse(new WireError('shutting_down', 'the daemon is shutting down'));
    wss.handleUpgrade(req, socket, head, (ws) => {
      handleWsConnection(ws, { config, service, availability: state, logger: logger.child({ connection: ++connectionSeq }) });
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

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
    close: async () => {
      state.closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await service.close();
      await closed;
    },
  };
}

const ROUTES: Record<string, string> = {
  '/healthz': 'GET',
  '/v1/runtimes': 'GET',
  '/v1/executions': 'POST',
};

// Everything about the host that launches need, checked once.
async function gatherFacts(config: Config, deps: DaemonDeps): Promise<SandboxFacts> {
  let bwrapPath: string | null = null;
  if (!config.unsafeNoSandbox) {
    bwrapPath = await resolveExecutable(config.bwrapPath, deps.searchPath ?? process.env.PATH);
    if (!bwrapPath) throw new StartupError(BWRAP_MISSING(config.bwrapPath));
  }
  await ensureWorkDir(config.workDir);
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
    ...(isRoot ? { owner: { uid: config.sandboxUid, gid: config.sandboxGid } } : {}),
  };
}
