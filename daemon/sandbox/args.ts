// Pure builders of the sandbox command line and environment: facts in, string arrays out. Nothing here
// touches the system; host.ts gathers the facts and spawn.ts is the one place that starts processes.

/** Where things appear inside every sandbox. */
export const SANDBOX_PATHS = Object.freeze({
  workspace: '/workspace',
  runtimes: '/runbox',
  /** Packages installed at runtime (read-only): python/ is on sys.path, node/node_modules is linked at /node_modules. */
  packages: '/runbox/packages',
  bridgeSocket: '/run/runbox/bridge.sock',
  tmp: '/tmp',
  matplotlibConfig: '/tmp/matplotlib',
});

/** The empty file in the runtime directory that covers host files of /proc (a bind of /dev/null would be nodev). */
export const EMPTY_FILE = 'etc/empty';

/** The uid/gid the code sees inside its user namespace (never 0). */
export const SANDBOX_INNER_ID = 1000;

/** Facts about the host that decide how its root directories appear in a sandbox. */
export interface HostLayout {
  /** Root entries such as /lib that are symlinks (merged /usr): name → link target. */
  readonly rootSymlinks: Readonly<Record<string, string>>;
  /** Root directories such as /lib64 that are real directories and must be bound read-only. */
  readonly rootDirs: readonly string[];
  /** Files and directories under /etc that the runtimes need (the dynamic linker cache, time zone, fonts). */
  readonly etcEntries: readonly string[];
  /** Files under /proc, relative to it, that tell about the host and exist on it: an empty file covers them. */
  readonly maskedProcFiles: readonly string[];
}

export interface SandboxArgsInput {
  readonly layout: HostLayout;
  /** Host directory bound writable as the workspace. */
  readonly workspaceDir: string;
  /** Host path of this execution's bridge socket. */
  readonly bridgeSocket: string;
  /** Host directory of the packages installed for this execution or its session, bound read-only. */
  readonly packagesDir?: string;
  /** Host directory with the preludes, the synthetic /etc files (passwd, group, hosts) and an empty file (EMPTY_FILE). */
  readonly runtimeDir: string;
  /** Extra host paths bound read-only at the same place (a Python venv, a Node install outside /usr). */
  readonly readOnlyPaths: readonly string[];
  /** Host file → path inside the sandbox, bound read-only (e.g. a prebuilt matplotlib font cache). */
  readonly readOnlyFiles: ReadonlyArray<readonly [hostPath: string, sandboxPath: string]>;
  /** The interpreter command line, in sandbox paths. */
  readonly command: readonly string[];
  /** Where the command starts, in sandbox paths: `/` for a prelude, which enters the workspace only when its
   * code arrives, so that nothing a session left there (a matplotlibrc, a module) is read before. */
  readonly workingDir: string;
  /** Descriptor bubblewrap reads the seccomp program from (see seccomp.ts); none means no filter. */
  readonly seccompFd?: number;
  /** Size of the /tmp tmpfs (which /var/tmp links to) and, separately, of /dev/shm; none means unsized. */
  readonly tmpBytes?: number;
}

// The bubblewrap arguments for one execution: every namespace unshared (and no way to make new user
// namespaces), a read-only system and root, a private writable workspace, size-limited /tmp and /dev/shm,
// the bridge socket, the seccomp filter, and nothing else of the host.
export function buildSandboxArgs(input: SandboxArgsInput): string[] {
  const args = [...namespaceArgs(input.seccompFd, []), ...systemArgs(input)];
  for (const [hostPath, sandboxPath] of input.readOnlyFiles) args.push('--ro-bind', hostPath, sandboxPath);
  if (input.packagesDir) {
    // A link, not a bind of node_modules itself: an install swaps that directory for a new one, which the link finds.
    args.push('--ro-bind', input.packagesDir, SANDBOX_PATHS.packages, '--symlink', NODE_MODULES_LINK, '/node_modules');
  }
  args.push('--bind', input.workspaceDir, SANDBOX_PATHS.workspace, '--ro-bind', input.bridgeSocket, SANDBOX_PATHS.bridgeSocket);
  return [...args, ...closingArgs(input.workingDir, input.command)];
}

/** Where a fork server sees the daemon's work directory, from which each child binds its own directories. */
export const FORK_SERVER_WORK_ROOT = '/runbox-work';

/** The capabilities a fork server keeps inside its user namespace, and only there: unshare and mount for its
 * children (CAP_SYS_ADMIN), and dropping the children's bounding set (CAP_SETPCAP). Children drop all of them. */
export const FORK_SERVER_CAPS = ['CAP_SYS_ADMIN', 'CAP_SETPCAP'] as const;
const NODE_MODULES_LINK = `${SANDBOX_PATHS.packages}/node/node_modules`;
/** An empty file in a fork server, which each child binds over the host files of its own /proc. */
export const FORK_SERVER_EMPTY_FILE = `${SANDBOX_PATHS.runtimes}/empty`;

export interface ForkServerArgsInput {
  readonly layout: HostLayout;
  readonly runtimeDir: string;
  readonly readOnlyPaths: readonly string[];
  /** Bound read-only at the same place in the server (the matplotlib font cache), for it to hand on to children. */
  readonly readOnlyFiles: ReadonlyArray<readonly [hostPath: string, sandboxPath: string]>;
  /** The daemon's work directory, as the path bubblewrap binds (a descriptor's /proc/self/fd path, so that no
   * process of the server names the work directory: tests and operators find sandboxes by that path). */
  readonly workDir: string;
  readonly command: readonly string[];
  readonly seccompFd?: number;
  readonly tmpBytes?: number;
}

// The bubblewrap arguments of a fork server: the same namespaces and read-only system as a sandbox, two
// capabilities inside its own user namespace, mount points for what each child binds (workspace, packages,
// bridge socket), and the work directory, from which a child takes its own directories before unmounting it.
export function buildForkServerArgs(input: ForkServerArgsInput): string[] {
  const caps = FORK_SERVER_CAPS.flatMap((cap) => ['--cap-add', cap]);
  // No host file of /proc is covered in the server's own /proc: a child could not mount a /proc of its own then
  // (the kernel refuses a new proc where the existing one is not fully visible), and covers them in that one.
  const args = [...namespaceArgs(input.seccompFd, caps), ...systemArgs({ ...input, layout: { ...input.layout, maskedProcFiles: [] } })];
  for (const [hostPath, sandboxPath] of input.readOnlyFiles) args.push('--ro-bind', hostPath, sandboxPath);
  args.push(
    '--dir', SANDBOX_PATHS.workspace,
    '--dir', SANDBOX_PATHS.packages,
    '--symlink', NODE_MODULES_LINK, '/node_modules',
    '--ro-bind', `${input.runtimeDir}/${EMPTY_FILE}`, SANDBOX_PATHS.bridgeSocket,
    '--ro-bind', `${input.runtimeDir}/${EMPTY_FILE}`, FORK_SERVER_EMPTY_FILE,
    '--bind', input.workDir, FORK_SERVER_WORK_ROOT,
  );
  return [...args, ...closingArgs('/', input.command)];
}

// Every namespace unshared, no new user namespaces, the seccomp filter, tied to its parent, no capability but caps.
function namespaceArgs(seccompFd: number | undefined, caps: readonly string[]): string[] {
  return [
    '--unshare-all',
    // explicit, because --unshare-all only tries, and --disable-userns needs a user namespace to lock
    '--unshare-user',
    '--disable-userns',
    ...(seccompFd === undefined ? [] : ['--seccomp', String(seccompFd)]),
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    ...caps,
    '--uid', String(SANDBOX_INNER_ID),
    '--gid', String(SANDBOX_INNER_ID),
    '--hostname', 'runbox',
  ];
}

// The read-only system: /usr, the root's links and directories, /etc entries, the synthetic passwd, group and
// hosts, extra read-only paths, /proc with host files covered, /dev, sized /dev/shm and /tmp, and the runtimes.
function systemArgs(input: { layout: HostLayout; runtimeDir: string; readOnlyPaths: readonly string[]; tmpBytes?: number }): string[] {
  const { layout } = input;
  const sized = input.tmpBytes === undefined ? [] : ['--size', String(input.tmpBytes)];
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const [name, target] of Object.entries(layout.rootSymlinks)) args.push('--symlink', target, `/${name}`);
  for (const dir of layout.rootDirs) args.push('--ro-bind', `/${dir}`, `/${dir}`);
  for (const entry of layout.etcEntries) args.push('--ro-bind', `/etc/${entry}`, `/etc/${entry}`);
  for (const name of ['passwd', 'group', 'hosts']) args.push('--ro-bind', `${input.runtimeDir}/etc/${name}`, `/etc/${name}`);
  for (const hostPath of input.readOnlyPaths) args.push('--ro-bind', hostPath, hostPath);
  args.push('--proc', '/proc');
  for (const name of layout.maskedProcFiles) args.push('--ro-bind', `${input.runtimeDir}/${EMPTY_FILE}`, `/proc/${name}`);
  args.push(
    '--dev', '/dev',
    // /dev/shm gets its own tmpfs: bubblewrap's --dev makes it a directory of the unsized /dev tmpfs
    ...sized, '--tmpfs', '/dev/shm',
    ...sized, '--tmpfs', SANDBOX_PATHS.tmp,
    '--symlink', SANDBOX_PATHS.tmp, '/var/tmp',
    '--ro-bind', `${input.runtimeDir}/python`, `${SANDBOX_PATHS.runtimes}/python`,
    '--ro-bind', `${input.runtimeDir}/node`, `${SANDBOX_PATHS.runtimes}/node`,
    '--ro-bind', `${input.runtimeDir}/protocol.json`, `${SANDBOX_PATHS.runtimes}/protocol.json`,
  );
  return args;
}

// Last: the root tmpfs and /dev hold only what bubblewrap made, and their directories belong to the sandbox
// user, so without this they would take unlimited files (/var, /run/runbox, /dev). Mounts on them stay writable.
function closingArgs(workingDir: string, command: readonly string[]): string[] {
  return ['--remount-ro', '/dev', '--remount-ro', '/', '--chdir', workingDir, '--', ...command];
}

export interface SandboxEnvInput {
  /** Directories put first on PATH (the venv's bin). */
  readonly pathDirs: readonly string[];
  readonly bridgeSocket: string;
  readonly bridgeToken: string;
  /** HOME and TMPDIR: /tmp in a sandbox, a private directory without one. */
  readonly tmpDir: string;
  /** Where installed packages appear (python/, node/node_modules), if anywhere. */
  readonly packagesDir?: string;
  /** The workspace, which the prelude enters when the code arrives. */
  readonly workspaceDir: string;
}

// The environment of sandboxed code, built from scratch: no variable of the daemon's reaches it.
export function buildSandboxEnv(input: SandboxEnvInput): Record<string, string> {
  return {
    PATH: [...input.pathDirs, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: input.tmpDir,
    TMPDIR: input.tmpDir,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    MPLBACKEND: 'Agg',
    MPLCONFIGDIR: `${input.tmpDir}/matplotlib`,
    RUNBOX_BRIDGE_SOCKET: input.bridgeSocket,
    RUNBOX_BRIDGE_TOKEN: input.bridgeToken,
    RUNBOX_WORKSPACE: input.workspaceDir,
    ...(input.packagesDir ? { RUNBOX_PACKAGES: input.packagesDir } : {}),
  };
}
