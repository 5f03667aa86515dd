// Keeps a few sandboxes per runtime started and waiting for their code, so an execution skips the start-up of
// bubblewrap and the interpreter. Each sandbox still serves exactly one execution; a taken one is replaced.
import type { Logger } from 'pino';
import type { RuntimeName } from '../sandbox/runtimes.js';
import type { SandboxInstance } from './sandbox-instance.js';

/** Starts one sandbox for the pool. */
export type SandboxStarter = (runtime: RuntimeName) => Promise<SandboxInstance>;

/** How many sandboxes of which runtimes a pool keeps, how it starts them, and what it does with idle ones. */
export interface WarmPoolOptions {
  /** Sandboxes kept ready (or starting) for each runtime. */
  readonly sizePerRuntime: number;
  /** The runtimes that get warm sandboxes. */
  readonly runtimes: readonly RuntimeName[];
  readonly startSandbox: SandboxStarter;
  readonly log: Logger;
  /** Called once for each sandbox still waiting in the pool idleDelayMs after it got there (e.g. to preload modules). @default nothing */
  readonly onIdle?: (instance: SandboxInstance) => void;
  /** @default 0 */
  readonly idleDelayMs?: number;
}

const MAX_BACKOFF_MS = 30_000;
/** How long after a sandbox is taken its replacement starts. */
const REFILL_DELAY_MS = 25;

// The pool of warm sandboxes of the daemon, per runtime.
export class WarmPool {
  private readonly ready = new Map<RuntimeName, SandboxInstance[]>();
  private readonly starting = new Map<RuntimeName, number>();
  private readonly failures = new Map<RuntimeName, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly waiters = new Map<RuntimeName, Array<(instance: SandboxInstance | null) => void>>();
  private readonly replacing = new Map<RuntimeName, (instance: SandboxInstance) => boolean>();
  private closed = false;
  private readonly sizePerRuntime: number;
  private readonly runtimes: readonly RuntimeName[];
  private readonly startSandbox: SandboxStarter;
  private readonly log: Logger;
  private readonly onIdle: (instance: SandboxInstance) => void;
  private readonly idleDelayMs: number;

  constructor(options: WarmPoolOptions) {
    this.sizePerRuntime = options.sizePerRuntime;
    this.runtimes = options.runtimes;
    this.startSandbox = options.startSandbox;
    this.log = options.log;
    this.onIdle = options.onIdle ?? (() => undefined);
    this.idleDelayMs = options.idleDelayMs ?? 0;
  }

  // Starts sandboxes until each runtime has its share ready or starting.
  fill(): void {
    if (this.closed) return;
    for (const runtime of this.runtimes) {
      const have = (this.ready.get(runtime)?.length ?? 0) + (this.starting.get(runtime) ?? 0);
      for (let i = have; i < this.sizePerRuntime; i++) void this.startOne(runtime);
    }
  }

  // A ready sandbox of that runtime; when none is ready but one is starting (and no one else waits for it),
  // waits for that one, which is sooner than starting another. Null otherwise: the caller starts its own.
  async take(runtime: RuntimeName): Promise<SandboxInstance | null> {
    const instance = this.ready.get(runtime)?.shift();
    if (instance) {
      this.refillSoon();
      return instance;
    }
    const waiting = this.waiters.get(runtime) ?? [];
    if (this.closed || (this.starting.get(runtime) ?? 0) <= waiting.length) return null;
    const handed = new Promise<SandboxInstance | null>((resolve) => waiting.push(resolve));
    this.waiters.set(runtime, waiting);
    return handed;
  }

  // Starts the replacement of a taken sandbox a moment later: started at once, it would compete for the CPU
  // with the code that just got the sandbox (most executions are done in a few ms). A burst still finds
  // sandboxes starting: requests that find none ready start their own.
  private refillSoon(): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.fill();
    }, REFILL_DELAY_MS);
    timer.unref();
    this.timers.add(timer);
  }

  // Disposes of the idle sandboxes of a runtime that `replace` picks, and of those it picks when they get ready
  // from now on, and starts others in their place (the fork server got ready: sandboxes started on their own are
  // slower to use than its children).
  replaceIdle(runtime: RuntimeName, replace: (instance: SandboxInstance) => boolean): void {
    this.replacing.set(runtime, replace);
    const list = this.ready.get(runtime);
    if (!list || this.closed) return;
    const stale = list.filter(replace);
    if (stale.length === 0) return;
    // Taken out of the same array (its watchers hold it), so that their disposal is not mistaken for a death.
    for (const instance of stale) list.splice(list.indexOf(instance), 1);
    for (const instance of stale) void instance.dispose();
    this.fill();
  }

  // Disposes of every idle sandbox; sandboxes still starting are disposed of when they are up.
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const waiting of this.waiters.values()) for (const waiter of waiting.splice(0)) waiter(null);
    const idle = [...this.ready.values()].flatMap((list) => list.splice(0));
    await Promise.all(idle.map((instance) => instance.dispose()));
    await Promise.all([...this.tasks]);
  }

  private startOne(runtime: RuntimeName): void {
    this.starting.set(runtime, (this.starting.get(runtime) ?? 0) + 1);
    const task = this.warmUp(runtime).finally(() => {
      this.starting.set(runtime, (this.starting.get(runtime) ?? 1) - 1);
      this.tasks.delete(task);
      // A sandbox handed straight to a waiter leaves the pool short: start its replacement.
      if (this.failures.get(runtime) === 0) this.fill();
    });
    this.tasks.add(task);
  }

  // Starts one sandbox and, once its prelude is connected, makes it available.
  private async warmUp(runtime: RuntimeName): Promise<void> {
    let instance: SandboxInstance | null = null;
    let ok = false;
    try {
      instance = await this.startSandbox(runtime);
      ok = await instance.ready;
    } catch (error) {
      this.log.error({ err: error, runtime }, 'could not start a warm sandbox');
    }
    if (!ok || this.closed || !instance) {
      this.waiters.get(runtime)?.shift()?.(null);
      await instance?.dispose();
      if (!ok && !this.closed) this.retryLater(runtime);
      return;
    }
    this.failures.set(runtime, 0);
    if (this.replacing.get(runtime)?.(instance)) {
      await instance.dispose();
      return; // the finally of startOne starts the replacement
    }
    const waiter = this.waiters.get(runtime)?.shift();
    if (waiter) {
      waiter(instance);
      return;
    }
    const list = this.ready.get(runtime) ?? [];
    list.push(instance);
    this.ready.set(runtime, list);
    const idle = instance;
    // Only a sandbox that has really been idle gets the extra work: in a burst of requests it would compete
    // with the code for the CPU.
    const idleTimer = setTimeout(() => {
      this.timers.delete(idleTimer);
      if (list.includes(idle)) this.onIdle(idle);
    }, this.idleDelayMs);
    idleTimer.unref();
    this.timers.add(idleTimer);
    // An idle sandbox that dies (it should not) leaves the pool and is replaced.
    void idle.exited.then(() => {
      const index = list.indexOf(idle);
      if (index === -1) return;
      list.splice(index, 1);
      this.log.warn({ runtime }, 'an idle warm sandbox exited; replacing it');
      void idle.dispose();
      this.retryLater(runtime);
    });
  }

  // Tries again after a backoff that doubles with each failure in a row, so a broken runtime cannot spin.
  private retryLater(runtime: RuntimeName): void {
    const failures = (this.failures.get(runtime) ?? 0) + 1;
    this.failures.set(runtime, failures);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.fill();
    }, Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures));
    timer.unref();
    this.timers.add(timer);
  }
}
