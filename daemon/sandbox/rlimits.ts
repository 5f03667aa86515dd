// Pure: the resource limits (setrlimit) every sandboxed process starts with, as a prlimit(1) command line
// that wraps bubblewrap. They are a per-process backstop; the cgroup limits the execution as a whole.

/** util-linux's prlimit: sets its own limits, then execs the command, which inherits them. */
export const PRLIMIT_PATH = '/usr/bin/prlimit';

export interface ProcessLimits {
  /** RLIMIT_NOFILE, soft and hard (Node raises its soft limit to the hard one at start). */
  readonly maxOpenFiles: number;
  /** RLIMIT_FSIZE: the largest file a process may write; beyond it, write() fails with EFBIG. */
  readonly fileSizeBytes: number;
  /** CPU time of the execution; each process gets RLIMIT_CPU of a second more than that, rounded up. */
  readonly cpuTimeMs: number;
  /** RLIMIT_AS: address space per process, a backstop for when no memory cgroup limits the execution. */
  readonly addressSpaceBytes: number;
}

// The prlimit options, ending with `--`, to put before the bubblewrap command. RLIMIT_CORE 0: no core dumps.
// RLIMIT_CPU: SIGXCPU at the soft limit (a process dies of it unless it handles it), SIGKILL a second later.
// RLIMIT_AS is only a backstop (the cgroup limits memory): runtimes reserve address space they never use (Node
// starts in 1 GiB, but each WebAssembly memory reserves about 10 GiB), so it stays far above memoryBytes.
// Deliberately absent: RLIMIT_NPROC (counted per host user, which every sandbox shares).
export function buildRlimitArgs(limits: ProcessLimits): string[] {
  return [...Object.entries(rlimitValues(limits)).map(([name, [soft, hard]]) => `--${name}=${soft}:${hard}`), '--'];
}

/** Each limit as [soft, hard], by prlimit's name for it (nofile, fsize, core, as, cpu). */
export type RlimitValues = Readonly<Record<'nofile' | 'fsize' | 'core' | 'as' | 'cpu', readonly [number, number]>>;

// The values behind buildRlimitArgs, for a fork server's children, which set their own (setrlimit).
export function rlimitValues(limits: ProcessLimits): RlimitValues {
  const cpuSeconds = Math.ceil(limits.cpuTimeMs / 1000) + 1;
  return {
    nofile: [limits.maxOpenFiles, limits.maxOpenFiles],
    fsize: [limits.fileSizeBytes, limits.fileSizeBytes],
    core: [0, 0],
    as: [limits.addressSpaceBytes, limits.addressSpaceBytes],
    cpu: [cpuSeconds, cpuSeconds + 1],
  };
}
