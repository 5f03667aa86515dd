// Where one execution's tool calls go: a ToolRouter with the request's policy (declared tools, maxToolCalls,
// maxToolCallBytes), the client's ToolHost, and the daemon's own tools, one registration each. Today that is
// runbox.install; code mode and MCP add theirs in daemonToolsFor().
import type { Logger } from 'pino';
import { DaemonTools, ToolRouter } from '../bridge/tool-router.js';
import type { ToolHost } from '../bridge/tools.js';
import type { Config } from '../config.js';
import type { PackageService } from '../packages/service.js';
import { INSTALL_TOOL, installTool } from './install-tool.js';
import type { ExecutionRequest } from './request.js';
import type { SandboxInstance } from './sandbox-instance.js';

/** What the tool calls of one execution are routed with. */
export interface ExecutionToolsOptions {
  readonly request: Pick<ExecutionRequest, 'tools' | 'limits'> & Partial<Pick<ExecutionRequest, 'validators' | 'validateResults' | 'budgets'>>;
  readonly config: Pick<Config, 'maxToolCallBytes'>;
  /** Installs packages; null refuses every install. */
  readonly packages: PackageService | null;
  /** The execution's sandbox: answers go to it; installs go to its runtime and packages directory. */
  readonly sandbox: Pick<SandboxInstance, 'runtime' | 'packagesDir' | 'send'>;
  /** The client's side, which answers the declared tools. */
  readonly toolHost: ToolHost;
  /** Aborted when the execution stops or ends. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

// The router of one execution's tool calls.
export function routerFor(options: ExecutionToolsOptions): ToolRouter {
  const { request, sandbox, log } = options;
  return new ToolRouter({
    toolHost: options.toolHost,
    declared: request.tools,
    maxToolCalls: request.limits.maxToolCalls,
    maxToolCallBytes: options.config.maxToolCallBytes,
    daemonTools: daemonToolsFor(options),
    send: (message) => sandbox.send(message),
    signal: options.signal,
    log,
    validators: request.validators,
    validateResults: request.validateResults,
    budgets: request.budgets,
  });
}

// The registry of daemon tools for one execution (each handler keeps that execution's own counts).
export function daemonToolsFor(options: Pick<ExecutionToolsOptions, 'packages' | 'sandbox' | 'log'>): DaemonTools {
  const { packages, sandbox, log } = options;
  return new DaemonTools().register(INSTALL_TOOL, installTool({ packages, runtime: sandbox.runtime, packagesDir: sandbox.packagesDir, log }));
}
