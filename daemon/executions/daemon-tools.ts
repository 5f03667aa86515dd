// The daemon's own tools an execution's code may call (answered by the daemon, never by the client): one
// registration each. Today that is runbox.install; code mode and MCP add theirs here.
import type { Logger } from 'pino';
import { DaemonTools } from '../bridge/tool-router.js';
import type { PackageService } from '../packages/service.js';
import { INSTALL_TOOL, installTool } from './install-tool.js';
import type { SandboxInstance } from './sandbox-instance.js';

export interface DaemonToolsContext {
  /** Installs packages; null refuses every install. */
  readonly packages: PackageService | null;
  /** The execution's sandbox: its runtime and packages directory. */
  readonly sandbox: Pick<SandboxInstance, 'runtime' | 'packagesDir'>;
  /** The execution's logger. */
  readonly log: Logger;
}

// The registry of daemon tools for one execution (each handler keeps that execution's own counts).
export function daemonToolsFor(context: DaemonToolsContext): DaemonTools {
  const { packages, sandbox, log } = context;
  return new DaemonTools().register(INSTALL_TOOL, installTool({ packages, runtime: sandbox.runtime, packagesDir: sandbox.packagesDir, log }));
}
