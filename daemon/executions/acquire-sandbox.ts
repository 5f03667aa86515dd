// The sandbox of one execution: a warm one when there is one that can take the execution's limits, else a fresh
// one, in its cgroup with those limits applied before any code can arrive.
import type { Logger } from 'pino';
import { mayUsePreload } from './preload-use.js';
import type { ExecutionRequest } from './request.js';
import { SandboxInstance, type SandboxContext, type SessionBinding } from './sandbox-instance.js';

/** Hands out a ready sandbox for a runtime, or null (the execution then starts its own). `plain`: the code uses
 * nothing of the Python preload, so a sandbox forked from the plain fork server serves it (and is cheaper to
 * replace than one with the preload). */
export type TakeWarmSandbox = (runtime: ExecutionRequest['runtime'], options: { readonly plain: boolean }) => Promise<SandboxInstance | null>;

/** What an execution asks a sandbox of, and how it hears of the sandboxes it holds on the way. */
export interface AcquireOptions {
  readonly request: Pick<ExecutionRequest, 'runtime' | 'limits' | 'code'>;
  readonly context: SandboxContext;
  /** The session whose workspace and packages a fresh sandbox uses, if any. */
  readonly session: SessionBinding | null;
  readonly takeWarm: TakeWarmSandbox;
  /** Aborted when the execution is stopped: a sandbox started after that is killed at once. */
  readonly signal: AbortSignal;
  /** Told of each sandbox as soon as it is the execution's (null while none is), so a stop can kill it. */
  hold(sandbox: SandboxInstance | null): void;
  /** Told of the disposal of a warm sandbox put aside: the execution's cleanup waits for it. */
  discard(disposal: Promise<void>): void;
  readonly log: Logger;
}

/** The execution's sandbox, and why it cannot run the code, if it cannot (it is then killed). */
export interface Acquired {
  readonly sandbox: SandboxInstance;
  readonly problem: string | null;
}

// A sandbox whose processes are in their cgroup, with the execution's limits applied. A warm sandbox already
// holding more memory than this execution may (the modules it preloaded), or killed while it waited (it said too
// much before its code), is put aside for a fresh one. Throws when a fresh one cannot be started.
export async function acquireSandbox(options: AcquireOptions): Promise<Acquired> {
  const { request: { runtime, limits, code }, log } = options;
  const plain = runtime === 'python' && !mayUsePreload(code, options.context.config.pythonPreload);
  const warm = await options.takeWarm(runtime, { plain });
  if (warm) {
    options.hold(warm);
    const applied = warm.usable ? await warm.applyLimits(limits) : 'failed';
    if (applied === 'applied') return { sandbox: warm, problem: null };
    log.info({ applied }, 'a warm sandbox could not take this execution\'s limits; starting a fresh one');
    options.discard(warm.dispose());
    options.hold(null);
  }
  const sandbox = await SandboxInstance.start(runtime, options.context, options.session, { plain });
  options.hold(sandbox);
  if (options.signal.aborted) sandbox.kill();
  // Code is sent only once the sandbox is in its cgroup: ready says so (or that it died first).
  if (!(await sandbox.ready)) return { sandbox, problem: sandbox.startProblem };
  const applied = await sandbox.applyLimits(limits);
  const problem =
    applied === 'memory_in_use'
      ? `memoryBytes (${limits.memoryBytes} bytes) is less than the interpreter holds before any code runs`
      : applied === 'failed'
        ? 'the limits of its cgroup could not be set'
        : null;
  if (problem !== null) sandbox.kill();
  return { sandbox, problem };
}
