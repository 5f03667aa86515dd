// What an unsuccessful installer run means for the code that asked: cancelled, too slow, too large, refused
// because its dependency tree reaches beyond the configured index or registry (naming what it reached for), or
// failed with the installer's own explanation. Messages name the target directory, never the staging tree.
import { InstallError, installFailedError, tailOf, INSTALLER_MESSAGE_MAX_CHARS } from './errors.js';
import type { InstallerName } from './installer.js';
import { findForeignDependencies, type ForeignDependency } from './npm-sources.js';
import type { RunResult } from './run.js';
import { SizeLimitError } from './size-watch.js';

/** Exit status bubblewrap reports for a child killed by SIGXFSZ (128 + 25): it wrote a file over RLIMIT_FSIZE. */
const FILE_TOO_LARGE_EXIT = 153;

export interface RunContext {
  readonly installer: InstallerName;
  readonly specifiers: readonly string[];
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Bytes of the package directory before the install. */
  readonly bytesBefore: number;
  readonly stagingDir: string;
  readonly targetDir: string;
  /** The install's cache partition (npm's metadata is read from it to name a refused dependency). */
  readonly cacheDir: string;
  /** The origins the install proxy let through, and what it refused. */
  readonly allowedOrigins: readonly string[];
  readonly refused: readonly string[];
  /** Aborted by the size watch when a tree passed its cap (its reason a SizeLimitError). */
  readonly sizeSignal: AbortSignal;
  /** The caller's cancellation. */
  readonly signal?: AbortSignal;
}

// Throws the error an unsuccessful run stands for; returns when the installer succeeded.
export async function checkRun(result: RunResult, context: RunContext): Promise<void> {
  const { installer } = context;
  const wanted = context.specifiers.join(' ');
  if (context.sizeSignal.aborted || (result.exitCode !== 0 && isFileTooLarge(result))) {
    const reason = context.sizeSignal.reason instanceof SizeLimitError ? `${context.sizeSignal.reason.message} (maxBytes)` : `it wrote a file over the cap of ${context.maxBytes} bytes (maxBytes)`;
    throw new InstallError('install_too_large', `installing ${wanted} was stopped while ${installer} ran: ${reason} (the package directory was ${context.bytesBefore} bytes); nothing was installed`);
  }
  if (result.ending === 'aborted') throw context.signal?.reason ?? new Error('the install was cancelled');
  if (result.ending === 'timeout') {
    throw new InstallError('install_timeout', `${installer} did not finish installing ${wanted} within ${context.timeoutMs} ms (timeoutMs); it was stopped and nothing was installed`);
  }
  if (result.exitCode === 0) return;
  const output = (result.stderr.trim() ? result.stderr : result.stdout).split(context.stagingDir).join(context.targetDir);
  const refusal = await describeRefusal(context, output);
  if (refusal) throw new InstallError('package_not_allowed', refusal);
  const exit = result.spawnError ? `could not start: ${result.spawnError}` : result.exitCode !== null ? `exit code ${result.exitCode}` : `killed by ${result.signal}`;
  throw installFailedError(installer, context.specifiers, exit, output);
}

function isFileTooLarge(result: RunResult): boolean {
  return result.signal === 'SIGXFSZ' || result.exitCode === FILE_TOO_LARGE_EXIT || /\bEFBIG\b|File too large/.test(result.stderr);
}

// The message for an install refused because its dependency tree named a source other than the configured
// index or registry, or null when that is not why it failed.
async function describeRefusal(context: RunContext, output: string): Promise<string | null> {
  const { installer } = context;
  const wanted = context.specifiers.join(' ');
  const allowed = context.allowedOrigins.join(', ');
  if (installer === 'npm' && /\bEALLOW(GIT|REMOTE|FILE|DIRECTORY)\b/.test(output)) {
    const foreign = await findForeignDependencies(context.cacheDir, context.allowedOrigins[0]);
    const npmNamed = /Refusing to fetch "([^"]+)"/.exec(output)?.[1];
    const named = foreign.length > 0 ? foreign.map(describeDependency).join('; ') : npmNamed ? `it needs ${JSON.stringify(npmNamed)}` : 'a dependency is not a registry package (npm did not say which)';
    return `npm refused to install ${wanted}: ${named}; dependencies must come from the configured registry (${allowed}), git, tarball URL, file and directory dependencies are refused. Nothing was fetched from elsewhere and nothing was installed`;
  }
  if (context.refused.length > 0) {
    return `${installer} could not install ${wanted}: it was sent to ${context.refused.join(', ')}, which is not the configured ${installer === 'npm' ? 'registry' : 'index'} (${allowed}); the daemon's install proxy refused it and nothing was installed`;
  }
  if ((installer === 'uv' || installer === 'pip') && /was included as a URL dependency|direct (URL )?reference/i.test(output)) {
    return `${installer} refused to install ${wanted}: a dependency is given by URL, and dependencies must come from the configured index (${allowed}); nothing was installed:\n${tailOf(output, INSTALLER_MESSAGE_MAX_CHARS)}`;
  }
  return null;
}

function describeDependency(dependency: ForeignDependency): string {
  if (dependency.name === null) return `${dependency.from} has its tarball at ${JSON.stringify(dependency.spec)}, not on the registry`;
  const kind = { git: 'a git URL', url: 'a tarball URL', path: 'a path' }[dependency.source];
  return `${dependency.from} depends on ${dependency.name} from ${kind}, ${JSON.stringify(dependency.spec)}`;
}
