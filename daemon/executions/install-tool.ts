// The daemon's tool runbox.install, behind install_package / installPackage: installs packages for the code
// (outside its sandbox, into its session's or its own packages directory) and answers with what was installed;
// a refusal or failure is the call's error, which the prelude raises as InstallError.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ToolCallError } from '../bridge/tools.js';
import type { RunInstalls } from '../bridge/messages.js';
import type { DaemonToolHandler } from '../bridge/tool-router.js';
import { MAX_INSTALLS_PER_EXECUTION, type Config } from '../config.js';
import { InstallError } from '../packages/errors.js';
import type { PackageService } from '../packages/service.js';
import type { PackageRuntime } from '../packages/specs.js';
import { PROTOCOL } from '../protocol.js';

/** The name the preludes call to install packages (runtimes/protocol.json). */
export const INSTALL_TOOL = PROTOCOL.installTool;

/** What the install tool of one execution works with. */
export interface InstallToolOptions {
  /** Installs the packages; null refuses every install (the daemon installs none). */
  readonly packages: PackageService | null;
  readonly runtime: PackageRuntime;
  /** The packages directory the sandbox sees read-only (python/, node/), where the packages go. */
  readonly packagesDir: string;
  readonly log: Logger;
}

// The `installs` field of the run message: whether a missing import installs, and the policy, so the prelude's
// hint for a missing module never suggests an install this daemon would refuse; null when it installs nothing.
export function installsForRun(config: Pick<Config, 'installOnImport' | 'packageAllow' | 'packageDeny'>, packages: PackageService | null): RunInstalls | null {
  if (!packages) return null;
  return { onImport: config.installOnImport, allow: config.packageAllow, deny: config.packageDeny };
}

// The handler of runbox.install for one execution: at most MAX_INSTALLS_PER_EXECUTION installs, each stopped
// (its installer killed) when the execution stops or ends.
export function installTool(options: InstallToolOptions): DaemonToolHandler {
  const { packages, runtime, packagesDir, log } = options;
  let installs = 0;
  return async (call) => {
    installs += 1;
    if (!packages) throw new ToolCallError('install_failed', 'this daemon does not install packages');
    if (installs > MAX_INSTALLS_PER_EXECUTION) {
      throw new ToolCallError('limit_exceeded', `install limit reached: an execution may ask for ${MAX_INSTALLS_PER_EXECUTION} installs (each of up to 32 packages)`);
    }
    if (call.signal.aborted) throw new ToolCallError('install_failed', 'the execution has ended; nothing was installed');
    const startedAt = performance.now();
    const args = call.readArgs();
    if ('problem' in args) throw new ToolCallError('invalid_package', `the install request was refused: ${args.problem}`);
    try {
      const answer = await packages.install(runtime, packagesDir, args.value, call.signal);
      log.info({ installed: answer.installed, installer: answer.installer, durationMs: answer.durationMs }, 'packages installed');
      return answer;
    } catch (error) {
      // Stopped with the execution: the router answers nobody (the code that asked is gone).
      if (call.signal.aborted && !(error instanceof InstallError)) throw error;
      const failure = describeInstallFailure(error);
      if (error instanceof InstallError) log.info({ code: failure.code, ms: Math.round(performance.now() - startedAt) }, 'package install refused or failed');
      else log.error({ err: error }, 'package install failed unexpectedly');
      throw failure;
    }
  };
}

// An install failure as the code sees it: an InstallError's own code and message, anything else a bare
// install_failed (the details belong in the log).
function describeInstallFailure(error: unknown): ToolCallError {
  if (error instanceof InstallError) return new ToolCallError(error.code, error.message);
  return new ToolCallError('install_failed', 'the install failed inside the daemon (see its log)');
}
