// Admits executions (at most maxConcurrent run, up to maxQueued more wait in FIFO order, the rest are refused),
// keeps the warm pool of sandboxes, and tracks every admitted execution so the daemon can drain or cancel them
// all when it stops.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WireError } from '../errors.js';
import type { RuntimeName } from '../sandbox/runtimes.js';
import { Execution, type ExecutionContext, type ExecutionHooks } from './execution.js';
import { SlotQueue } from './queue.js';
import type { ExecutionRequest } from './request.js';
import { cancelledBeforeStart, type CancelReason, type ExecutionResult } from './result.js';
import { SandboxInstance, type SessionBinding } from './sandbox-instance.js';
import type { Session } from '../sessions/session.js';
import { SessionSandboxes } from './session-warm.js';
import { WarmPool } from './warm-pool.js';
import type { SessionManager } from '../sessions/manager.js';

/** The warm pool's kind for Python sandboxes forked from the plain fork server. */
const PLAIN_PYTHON = 'python-plain';
type PoolKind = RuntimeName | typeof PLAIN_PYTHON;

/** How long a warm sandbox waits unused before it preloads modules (a burst of requests never pays for it). */
const PRELOAD_AFTER_IDLE_MS = 300;
/** The first guess of how long an execution runs, before any has finished (for Retry-After). */
const INITIAL_RUN_ESTIMATE_MS = 1000;
const MIN_RETRY_AFTER_MS = 100;
/** A slot is held at most timeoutMs plus this: a sandbox that cannot be killed must not shrink capacity for good. */
const SLOT_MARGIN_MS = 30_000;
/** How long a drain waits for cancelled executions and warm sandboxes to be cleaned up before it gives up on them. */
const CLEANUP_TIMEOUT_MS = 10_000;
const MAX_RETRY_AFTER_MS = 60_000;

/** An admitted execution, as the API sees it. */
export interface StartedExecution {
  /** The daemon's id of the execution (in the log as executionId). */
  readonly id: string;
  /** Cancels the execution, whether it still waits for a slot or already runs; its result says `cancelled`. */
  cancel(): void;
  /** The result; never rejects for anything the code does. */
  readonly result: Promise<ExecutionResult>;
}

interface Admitted {
  cancel(reason: CancelReason): void;
  /** Settles when the result is out and the sandbox is gone. */
  readonly finished: Promise<void>;
}

interface DrainState {
  done: Promise<void>;
  deadline: number;
  /** Ends the grace period now. */
  expire(): void;
  timer: NodeJS.Timeout | undefined;
}

// The daemon's executions: admission, the warm sandboxes, and draining them all at shutdown.
export class ExecutionService {
  private readonly admitted = new Set<Admitted>();
  private readonly slots: SlotQueue;
  private readonly pool: WarmPool<PoolKind>;
  /** True when Python code that uses nothing of the preload has warm sandboxes of its own (PLAIN_PYTHON). */
  private readonly plainKind: boolean;
  private readonly sessionSandboxes: SessionSandboxes;
  private runEstimateMs = INITIAL_RUN_ESTIMATE_MS;
  private drainState: DrainState | null = null;

  constructor(
    private readonly context: ExecutionContext,
    /** Runtimes that passed their start-up probe: only those get warm sandboxes. */
    runtimes: readonly RuntimeName[],
    /** Sessions that executions may name; without it, a sessionId is refused as unknown. */
    private readonly sessions: SessionManager | null = null,
  ) {
    const { config } = context;
    this.slots = new SlotQueue(config.maxConcurrent, config.maxQueued);
    const preload = config.pythonPreload;
    // More warm sandboxes of one runtime than executions may run at once would only wait and use memory.
    const poolSize = Math.min(config.warmSandboxes, config.maxConcurrent);
    const preloadIdle = (instance: SandboxInstance) => {
      if (instance.runtime === 'python' && !instance.forked && preload.length > 0) instance.send({ type: 'preload', modules: preload });
    };
    const { logger: log } = context;
    // With a plain fork server, Python gets two kinds of warm sandbox: code that uses nothing of the preload
    // takes one forked from the plain server (a fraction of the size: cheaper to fork, to replace and to tear
    // down), so it never uses up, nor waits for the replacement of, one with the preload imported.
    const plainServer = context.plainForkServer ?? null;
    this.plainKind = plainServer !== null && runtimes.includes('python');
    const kinds: PoolKind[] = runtimes.flatMap((runtime): PoolKind[] => (runtime === 'python' && this.plainKind ? ['python', PLAIN_PYTHON] : [runtime]));
    const startSandbox = (kind: PoolKind) => (kind === PLAIN_PYTHON ? SandboxInstance.start('python', context, null, { plain: true }) : SandboxInstance.start(kind, context));
    this.pool = new WarmPool<PoolKind>({
      sizePerRuntime: poolSize,
      maxPerRuntime: Math.min(config.warmSandboxes === 0 ? 0 : config.maxWarmSandboxes, config.maxConcurrent),
      shrinkAfterMs: config.warmShrinkAfterMs,
      runningExecutions: () => this.slots.activeCount,
      runtimes: kinds, startSandbox, log, idleDelayMs: PRELOAD_AFTER_IDLE_MS,
      onIdle: (instance, kind) => kind !== PLAIN_PYTHON && preloadIdle(instance),
    });
    this.pool.fill();
    // Python sandboxes started before the fork server was ready give way to its children, which start faster
    // and have the preload modules imported.
    const forkServer = context.forkServer;
    forkServer?.onReady(() => this.pool.replaceIdle('python', (instance) => !instance.forked && forkServer.ready));
    if (this.plainKind) plainServer?.onReady(() => this.pool.replaceIdle(PLAIN_PYTHON, (instance) => !instance.forked && plainServer.ready));
    // Sessions used lately keep one sandbox ready for their next execution (none when the warm pool is off).
    const sessionWarmCount = config.warmSandboxes === 0 ? 0 : config.maxConcurrent;
    const startForSession = (runtime: RuntimeName, binding: SessionBinding) => SandboxInstance.start(runtime, context, binding);
    this.sessionSandboxes = new SessionSandboxes({ capacity: sessionWarmCount, start: startForSession, log, onIdle: preloadIdle, idleDelayMs: PRELOAD_AFTER_IDLE_MS });
    const available = new Set(runtimes);
    sessions?.onCreated((session) => {
      if (session.runtime && available.has(session.runtime)) this.sessionSandboxes.prepare(session.id, session.runtime, bindingOf(session));
    });
    sessions?.onRemoved((session) => this.sessionSandboxes.discard(session.id));
  }

  // Admits one execution: it runs now, or waits for a slot. Throws queue_full when too many wait already,
  // shutting_down once the daemon drains.
  start(request: ExecutionRequest, hooks: ExecutionHooks): StartedExecution {
    if (this.drainState) throw new WireError('shutting_down', 'the daemon is shutting down and accepts no new executions');
    const session = request.sessionId === null ? null : this.sessionOf(request.sessionId);
    // A session's executions run one at a time, in order: each waits in the queue until the one before it is over.
    const turn = session?.enqueue();
    const ticket = this.slots.tryEnter(turn?.ready);
    if (!ticket) {
      turn?.done();
      const retryAfterMs = this.retryAfterMs();
      const { maxConcurrent, maxQueued } = this.context.config;
      throw new WireError(
        'queue_full',
        `${maxConcurrent} executions are running and ${maxQueued} are waiting (maxConcurrent, maxQueued); retry in about ${Math.ceil(retryAfterMs / 1000)} s`,
        { retryAfterMs },
      );
    }
    const id = randomUUID();
    const acceptedAt = performance.now();
    let execution: Execution | null = null;
    let cancelReason: CancelReason | null = null;
    const result = (async (): Promise<ExecutionResult> => {
      try {
        const granted = await ticket.granted;
        if (!granted || cancelReason !== null) {
          hooks.toolHost.dispose();
          return cancelledBeforeStart(cancelReason ?? 'client', performance.now() - acceptedAt);
        }
        const takeWarm = session ? (runtime: RuntimeName) => this.sessionSandboxes.take(session.id, runtime) : (runtime: RuntimeName, { plain }: { plain: boolean }) => this.pool.take(plain && this.plainKind ? PLAIN_PYTHON : runtime);
        execution = new Execution({ id, request, context: this.context, hooks, acceptedAt, takeWarm, session: session ? bindingOf(session) : null });
        const watchdog = setTimeout(() => {
          this.context.logger.error({ executionId: id, timeoutMs: request.timeoutMs }, 'an execution did not end long after its timeout; its slot is given back');
          ticket.release();
        }, request.timeoutMs + SLOT_MARGIN_MS);
        watchdog.unref();
        const ranAt = performance.now();
        // durationMs counts from acceptance (queue included); the run estimate counts the run alone.
        const answer = await execution.run().finally(() => clearTimeout(watchdog));
        this.recordRun(performance.now() - ranAt);
        return answer;
      } finally {
        ticket.release();
      }
    })();
    const admitted: Admitted = {
      cancel: (reason) => {
        if (cancelReason !== null) return;
        cancelReason = reason;
        if (execution) execution.cancel(reason);
        else ticket.withdraw();
      },
      finished: result.then(
        () => (execution as Execution | null)?.cleanedUp,
        () => (execution as Execution | null)?.cleanedUp,
      ).then(() => undefined, () => undefined),
    };
    this.admitted.add(admitted);
    const forget = session?.onCancel(() => admitted.cancel('session'));
    void admitted.finished.then(() => {
      this.admitted.delete(admitted);
      forget?.();
      // The session's next turn starts only once this sandbox is gone: no process of it may touch the workspace.
      turn?.done();
      if (session && !session.closing && !this.drainState) this.sessionSandboxes.prepare(session.id, request.runtime, bindingOf(session));
    });
    return { id, cancel: () => admitted.cancel('client'), result };
  }

  private sessionOf(id: string) {
    if (!this.sessions) throw new WireError('session_not_found', `no session ${JSON.stringify(id.slice(0, 80))}: this daemon keeps no sessions`);
    return this.sessions.get(id);
  }

  // Stops admitting executions and lets the admitted ones (running and queued) finish for up to graceMs; then
  // cancels what is left, disposes of the warm sandboxes and waits until every sandbox is gone. Calling it
  // again with a shorter grace cuts the wait short; it always resolves with the first call's promise.
  drain(graceMs: number): Promise<void> {
    const deadline = performance.now() + Math.max(0, graceMs);
    if (this.drainState) {
      if (deadline < this.drainState.deadline) this.setDeadline(this.drainState, deadline);
      return this.drainState.done;
    }
    let expire!: () => void;
    const expired = new Promise<void>((resolve) => (expire = resolve));
    const state: DrainState = { done: Promise.resolve(), deadline, expire, timer: undefined };
    this.drainState = state;
    this.setDeadline(state, deadline);
    state.done = this.runDrain(state, expired);
    return state.done;
  }

  // Cancels every execution (running or queued), waits for their cleanup, and disposes of the warm sandboxes.
  close(): Promise<void> {
    return this.drain(0);
  }

  private async runDrain(state: DrainState, expired: Promise<void>): Promise<void> {
    const poolClosed = Promise.all([this.pool.close(), this.sessionSandboxes.close()]);
    const all = [...this.admitted];
    const idle = Promise.all(all.map((admitted) => admitted.finished));
    await Promise.race([idle, expired]);
    clearTimeout(state.timer);
    for (const admitted of all) admitted.cancel('shutdown');
    // Every install belongs to an execution, which ends its own; this stops any still starting and guards the
    // cache directory from being made again.
    const packagesClosed = this.context.packages?.close();
    // A sandbox that cannot be killed must not keep the daemon from stopping: say so, and go on.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'gave up'>((resolve) => (timer = setTimeout(() => resolve('gave up'), CLEANUP_TIMEOUT_MS)));
    const outcome = await Promise.race([Promise.all([idle, poolClosed, packagesClosed]), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'gave up') {
      this.context.logger.error({ left: this.admitted.size, timeoutMs: CLEANUP_TIMEOUT_MS }, 'executions or warm sandboxes were not cleaned up in time; stopping anyway');
    }
  }

  private setDeadline(state: DrainState, deadline: number): void {
    state.deadline = deadline;
    clearTimeout(state.timer);
    const remaining = deadline - performance.now();
    if (remaining <= 0) return state.expire();
    state.timer = setTimeout(state.expire, remaining);
  }

  // How long a refused client should wait: about the time until a running execution ends and a queue place frees.
  private retryAfterMs(): number {
    const estimate = Math.ceil(this.runEstimateMs / this.context.config.maxConcurrent);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, estimate));
  }

  private recordRun(durationMs: number): void {
    this.runEstimateMs = 0.8 * this.runEstimateMs + 0.2 * durationMs;
  }
}

// The directories a session's sandboxes work in.
function bindingOf(session: Session): SessionBinding {
  return { workspaceDir: session.workspaceDir, packagesDir: session.packagesDir, workspaceMounted: session.workspaceMounted };
}
