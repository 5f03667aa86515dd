// Pure: what to spawn for a fork server, and the configuration it reads first. A fork server is one sandbox
// (bubblewrap, in the outer namespaces of every sandbox) whose interpreter has the prelude and the heavy modules
// imported and forks a child per execution; each child makes itself a sandbox of its own before any code runs
// (runtimes/python/runbox_zygote). docs/security.md ("Fork server") says what that keeps and what children share.
import path from 'node:path';
import { buildForkServerArgs, buildSandboxEnv, FORK_SERVER_EMPTY_FILE, FORK_SERVER_WORK_ROOT, SANDBOX_PATHS } from '../args.js';
import { outsideUsr, type SandboxFacts } from '../launch.js';
import { buildOuterNamespaceArgs, SETPRIV_PATH } from '../outer-namespace.js';
import { rlimitValues, type RlimitValues } from '../rlimits.js';
import { buildSeccompFilter } from '../seccomp.js';
import { EXTRA_INPUT_FD, PASSED_FD, type SpawnSpec } from '../spawn.js';

/** Room in the server's command line that each child overwrites with its execution's directory (child.py). */
export const COMMAND_LINE_ROOM = 512;

/** The first line a fork server reads (runtimes/python/runbox_zygote/protocol.py has the same fields). */
export interface ForkServerConfig {
  readonly type: 'config';
  /** Modules imported once, before the first fork. */
  readonly preload: readonly string[];
  /** The seccomp program (base64 of struct sock_filter[]) each child loads before its code runs. */
  readonly seccomp: string;
  readonly rlimits: RlimitValues;
  readonly tmpBytes: number;
  /** /proc files (relative to it) each child covers with emptyFile in its own /proc. */
  readonly maskedProcFiles: readonly string[];
  readonly emptyFile: string;
  readonly workRoot: string;
  /** The work directory's host path: a child names its execution's directory in its command line. */
  readonly hostWorkDir: string;
}

// The spawn spec of the Python fork server: like an execution's (setpriv, unshare, bubblewrap), without prlimit
// (each child sets its own limits; RLIMIT_CPU would end a long-lived server), with its own seccomp program, and
// the work directory passed as a descriptor (workDirFd, an open directory) so that no command line names it.
export function buildForkServerSpec(facts: SandboxFacts, workDir: string, workDirFd: number): SpawnSpec {
  const bwrap = facts.bwrapPath;
  if (bwrap === null) throw new Error('a fork server needs bubblewrap');
  const passed = `/proc/self/fd/${PASSED_FD}`;
  // The runtime files are in the work directory too: named through the descriptor as well.
  const runtimeDir = path.relative(workDir, facts.runtimeDir).startsWith('..') ? facts.runtimeDir : path.join(passed, path.relative(workDir, facts.runtimeDir));
  const room = '.'.repeat(COMMAND_LINE_ROOM);
  const command = [`${facts.pythonEnv}/bin/python3`, '-I', '-B', '-u', `${SANDBOX_PATHS.runtimes}/python/zygote.py`, room];
  const args = buildForkServerArgs({
    layout: facts.layout,
    runtimeDir,
    readOnlyPaths: outsideUsr([facts.pythonEnv, path.dirname(path.dirname(facts.nodePath))]),
    readOnlyFiles: facts.matplotlibCache.map((file) => [file, `${SANDBOX_PATHS.matplotlibConfig}/${path.basename(file)}`] as const),
    workDir: passed,
    command,
    seccompFd: EXTRA_INPUT_FD,
    tmpBytes: facts.limits.tmpBytes,
  });
  return {
    file: SETPRIV_PATH,
    args: [...buildOuterNamespaceArgs(), bwrap, ...args],
    env: forkServerEnv(facts),
    cwd: '/',
    processGroup: true,
    extraInput: buildSeccompFilter({ forkServer: true }),
    endsItsTree: true,
    input: true,
    passFd: workDirFd,
    ...(facts.owner ? { uid: facts.owner.uid, gid: facts.owner.gid } : {}),
  };
}

// The configuration line of a fork server.
export function buildForkServerConfig(facts: SandboxFacts, preload: readonly string[], hostWorkDir: string): ForkServerConfig {
  return {
    type: 'config',
    preload,
    seccomp: buildSeccompFilter().toString('base64'),
    rlimits: rlimitValues(facts.limits),
    tmpBytes: facts.limits.tmpBytes,
    maskedProcFiles: facts.layout.maskedProcFiles,
    emptyFile: FORK_SERVER_EMPTY_FILE,
    workRoot: FORK_SERVER_WORK_ROOT,
    hostWorkDir,
  };
}

// The environment of one forked execution: exactly what a sandbox of its own gets (buildLaunchSpec).
export function buildForkedEnv(facts: SandboxFacts, token: string): Record<string, string> {
  return buildSandboxEnv({
    pathDirs: [`${facts.pythonEnv}/bin`],
    bridgeSocket: SANDBOX_PATHS.bridgeSocket,
    bridgeToken: token,
    tmpDir: SANDBOX_PATHS.tmp,
    packagesDir: SANDBOX_PATHS.packages,
    workspaceDir: SANDBOX_PATHS.workspace,
  });
}

// The server's own environment: a sandbox's, without a bridge (it never talks to one; its children do).
function forkServerEnv(facts: SandboxFacts): Record<string, string> {
  const env = buildForkedEnv(facts, '');
  for (const name of ['RUNBOX_BRIDGE_SOCKET', 'RUNBOX_BRIDGE_TOKEN', 'RUNBOX_WORKSPACE', 'RUNBOX_PACKAGES']) delete env[name];
  return env;
}
