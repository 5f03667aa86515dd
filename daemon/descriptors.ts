// The daemon's file descriptors: the limit it runs under, the share of it that its configured caps may take, and
// how work that failed for want of descriptors is told apart and retried.
//
// RLIMIT_NOFILE: Node raises its own soft limit to the hard limit as it starts (src/node.cc, "Raise the open file
// descriptor limit", unless an embedder passes kNoAdjustResourceLimits), so the daemon runs with all the hard limit
// allows; test/descriptors.test.ts checks that under `prlimit --nofile=64:<hard>`. The budget below is computed
// from the soft limit read back from /proc/self/limits, so it holds even where that did not happen.
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DescriptorLimit {
  readonly soft: number;
  readonly hard: number;
}

// Pure: the "Max open files" line of /proc/<pid>/limits; null when it is not there.
export function parseDescriptorLimit(limits: string): DescriptorLimit | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!match) return null;
  const value = (text: string) => (text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text));
  return { soft: value(match[1]), hard: value(match[2]) };
}

// The descriptor limit of this process; null where /proc is not readable.
export async function readDescriptorLimit(): Promise<DescriptorLimit | null> {
  return parseDescriptorLimit(await fs.readFile('/proc/self/limits', 'utf8').catch(() => ''));
}

/**
 * Descriptors one sandbox can hold in the daemon at once: its bridge's listening socket, the main and side
 * connections (1 + 4), a refused connection being closed, stdout, stderr, bubblewrap's info pipe and seccomp
 * pipe, the pipes of a mount/umount or an installer and the files of an install, output collection or input
 * writing in progress. Measured at about 12; the rest is headroom.
 */
export const DESCRIPTORS_PER_SANDBOX = 32;
/** Descriptors kept for the daemon's own work: its stdio, log, event loop, thread pool, listening socket, cgroup
 * and /proc files, session file operations, and the descriptors libuv keeps to survive a burst of accepts. */
export const DAEMON_RESERVE_DESCRIPTORS = 256;

export interface DescriptorNeeds {
  /** Client connections open at once, at most (maxConnections). */
  readonly maxConnections: number;
  /** Executions running at once (maxConcurrent). */
  readonly maxConcurrent: number;
  /** Warm sandboxes per runtime (warmSandboxes). */
  readonly warmSandboxes: number;
  /** The most the warm pool grows to per runtime (maxWarmSandboxes). @default warmSandboxes */
  readonly maxWarmSandboxes?: number;
}

// Pure: the descriptors the daemon can need at once with these caps: every client connection open, every slot
// running, every warm sandbox (of both runtimes, and one per recently used session) waiting, and its reserve.
export function descriptorsNeeded(needs: DescriptorNeeds, runtimes = 2): number {
  const poolPerRuntime = needs.warmSandboxes === 0 ? 0 : Math.min(Math.max(needs.warmSandboxes, needs.maxWarmSandboxes ?? 0), needs.maxConcurrent);
  const sessionWarm = needs.warmSandboxes === 0 ? 0 : needs.maxConcurrent;
  const sandboxes = needs.maxConcurrent + runtimes * poolPerRuntime + sessionWarm;
  return needs.maxConnections + sandboxes * DESCRIPTORS_PER_SANDBOX + DAEMON_RESERVE_DESCRIPTORS;
}

// Pure: null when the caps fit in the limit, else what to change, naming the options and the numbers.
export function checkDescriptorBudget(needs: DescriptorNeeds, limit: number): string | null {
  const needed = descriptorsNeeded(needs);
  if (needed <= limit) return null;
  return (
    `maxConnections (${needs.maxConnections}), maxConcurrent (${needs.maxConcurrent}) and ${warmPoolNamed(needs)} can need ` +
    `${needed} file descriptors at once (${DESCRIPTORS_PER_SANDBOX} per sandbox, ${DAEMON_RESERVE_DESCRIPTORS} kept for the daemon), ` +
    `but the daemon may open ${limit} (RLIMIT_NOFILE): lower those options or raise the hard limit (ulimit -Hn, systemd LimitNOFILE=)`
  );
}

// The warm-pool options in the budget's message: maxWarmSandboxes too when the pool may grow past warmSandboxes.
function warmPoolNamed(needs: DescriptorNeeds): string {
  const grows = needs.warmSandboxes > 0 && (needs.maxWarmSandboxes ?? 0) > needs.warmSandboxes;
  return grows ? `warmSandboxes (${needs.warmSandboxes}) up to maxWarmSandboxes (${needs.maxWarmSandboxes})` : `warmSandboxes (${needs.warmSandboxes})`;
}

/** What a client is told when something of its execution failed for want of descriptors. */
export const OUT_OF_DESCRIPTORS = 'the daemon is out of file descriptors right now (EMFILE); try again shortly';

// True for an error caused by the process (EMFILE) or the system (ENFILE) running out of descriptors, whether it
// carries the code or only says so (a helper command's spawn failure).
export function isOutOfDescriptors(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'EMFILE' || code === 'ENFILE' || /\b(EMFILE|ENFILE)\b/.test(String(message ?? ''));
}

/** Tries of cleanup work that failed for want of descriptors, and the wait before the first retry (it doubles). */
const CLEANUP_TRIES = 6;
const CLEANUP_FIRST_RETRY_MS = 100;

// Runs cleanup work (an unmount, removing a directory), trying again a few times over about 6 s while it fails for
// want of descriptors: a moment of exhaustion must not leave a mount or a directory behind.
export async function retryWhileOutOfDescriptors<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= CLEANUP_TRIES || !isOutOfDescriptors(error)) throw error;
      await sleep(CLEANUP_FIRST_RETRY_MS * 2 ** (attempt - 1));
    }
  }
}
