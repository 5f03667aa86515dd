// Keeps sandboxes per runtime started and waiting for their code, so an execution skips the start-up of bubblewrap
// and the interpreter. Each sandbox still serves exactly one execution; a taken one is replaced. How many follows
// demand (warm-demand.ts): from sizePerRuntime, one more for each take that finds none ready, up to maxPerRuntime,
// and back to sizePerRuntime after a quiet period. A refill never takes a core from running code (warm-demand.ts says
// when one may start, cpu-idle.ts measures the idle cores); one that must wait is looked at again shortly.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { RuntimeName } from '../sandbox/runtimes.js';
import type { SandboxInstance } from './sandbox-instance.js';
import { CpuIdleMeter } from './cpu-idle.js';
import { afterMiss, afterQuiet, initialDemand, mayStartRefill, nextShrinkAt, type Demand, type DemandLimits } from './warm-demand.js';

/** Starts one sandbox of a kind for the pool. */
export type SandboxStarter<Kind extends string = RuntimeName> = (kind: Kind) => Promise<SandboxInstance>;

/** How many sandboxes of which kinds a pool keeps, how it starts them, and what it does with idle ones. A kind is a
 * runtime, or a finer one of the caller's (say, Python without the preload). */
export interface WarmPoolOptions<Kind extends string = RuntimeName> {
  /** Sandboxes kept ready (or starting) for each runtime, at least. */
  readonly sizePerRuntime: number;
  /** The most sandboxes a runtime's pool grows to when takes find none ready. @default sizePerRuntime */
  readonly maxPerRuntime?: number;
  /** After this long without a take finding none ready, a grown pool goes back to sizePerRuntime. @default 5000 */
  readonly shrinkAfterMs?: number;
  /** Executions running now (holding a slot); refills wait while they and the starts use every core. @default none */
  readonly runningExecutions?: () => number;
  /** Cores the sandboxes share. @default os.availableParallelism() */
  readonly cores?: number;
  /** Where idle CPU is measured, for refills past what the count of executions allows. @default /proc/stat, over 50 ms */
  readonly cpuIdle?: CpuIdleMeter;
  /** The kinds that get warm sandboxes. */
  readonly runtimes: readonly Kind[];
  readonly startSandbox: SandboxStarter<Kind>;
  readonly log: Logger;
  /** Called once for each sandbox still waiting in the pool idleDelayMs after it got there (e.g. to preload modules). @default nothing */
  readonly onIdle?: (instance: SandboxInstance, kind: Kind) => void;
  /** @default 0 */
  readonly idleDelayMs?: number;
}

const MAX_BACKOFF_MS = 30_000;
/** How long after a sandbox is taken its replacement starts: the code that just got it runs first. */
const REFILL_DELAY_MS = 25;
/** How often refills held back for lack of a free core look again. */
const HELD_REFILL_POLL_MS = 25;
/** The window idle CPU is measured over. */
const CPU_IDLE_WINDOW_MS = 50;
export const DEFAULT_SHRINK_AFTER_MS = 5000;

// The pool of warm sandboxes of the daemon, per kind (a runtime, or a finer kind of the caller's).
export class WarmPool<Kind extends string = RuntimeName> {
  private readonly ready = new Map<Kind, SandboxInstance[]>();
  private readonly starting = new Map<Kind, number>();
  private readonly failures = new Map<Kind, number>();
  /** Runtimes waiting out the backoff after a failed start. */
  private readonly backingOff = new Set<Kind>();
  private readonly demand = new Map<Kind, Demand>();
  private readonly shrinkTimers = new Map<Kind, NodeJS.Timeout>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Starts and disposals under way: close() waits for them. */
  private readonly tasks = new Set<Promise<void>>();
  private readonly waiters = new Map<Kind, Array<(instance: SandboxInstance | null) => void>>();
  private readonly replacing = new Map<Kind, (instance: SandboxInstance) => boolean>();
  private heldRefill: NodeJS.Timeout | null = null;
  /** Where the next fill begins, so that one runtime's refills cannot keep a single free core from the others. */
  private nextRuntime = 0;
  private closed = false;
  private readonly limits: DemandLimits;
  private readonly cores: number;
  private readonly runningExecutions: () => number;
  private readonly cpuIdle: CpuIdleMeter;
  /** When each start under way began: idle CPU measured over a window that began before a start does not show it. */
  private readonly startTimes: number[] = [];
  private readonly runtimes: readonly Kind[];
  private readonly startSandbox: SandboxStarter<Kind>;
  private readonly log: Logger;
  private readonly onIdle: (instance: SandboxInstance, kind: Kind) => void;
  private readonly idleDelayMs: number;

  constructor(options: WarmPoolOptions<Kind>) {
    const min = options.sizePerRuntime;
    this.limits = { min, max: Math.max(min, options.maxPerRuntime ?? min), shrinkAfterMs: options.shrinkAfterMs ?? DEFAULT_SHRINK_AFTER_MS };
    this.cores = options.cores ?? os.availableParallelism();
    this.runningExecutions = options.runningExecutions ?? (() => 0);
    this.cpuIdle = options.cpuIdle ?? new CpuIdleMeter(CPU_IDLE_WINDOW_MS);
    this.runtimes = options.runtimes;
    this.startSandbox = options.startSandbox;
    this.log = options.log;
    this.onIdle = options.onIdle ?? (() => undefined);
    this.idleDelayMs = options.idleDelayMs ?? 0;
  }

  /** How many sandboxes the runtime's pool aims for now (ready or starting). */
  targetOf(runtime: Kind): number {
    return this.demand.get(runtime)?.target ?? this.limits.min;
  }

  // Starts sandboxes, one runtime after the other, until each has its target ready or starting, while a core is
  // free; when none is, looks again shortly.
  fill(): void {
    if (this.closed) return;
    for (let started = true; started; ) {
      started = false;
      for (let i = 0; i < this.runtimes.length; i++) {
        const index = (this.nextRuntime + i) % this.runtimes.length;
        const runtime = this.runtimes[index];
        if (!this.wantsAnother(runtime)) continue;
        if (!this.hasFreeCore()) return this.fillLater();
        this.nextRuntime = (index + 1) % this.runtimes.length;
        this.startOne(runtime);
        started = true;
      }
    }
  }

  // A ready sandbox of that runtime; when none is ready but one is starting (and no one else waits for it),
  // waits for that one, which is sooner than starting another. Null otherwise: the caller starts its own.
  // Either way a take that finds none ready raises the runtime's target.
  async take(runtime: Kind): Promise<SandboxInstance | null> {
    const instance = this.ready.get(runtime)?.shift();
    if (instance) {
      this.refillSoon();
      return instance;
    }
    if (this.closed) return null;
    this.noteMiss(runtime);
    const waiting = this.waiters.get(runtime) ?? [];
    const handed = (this.starting.get(runtime) ?? 0) <= waiting.length ? null : new Promise<SandboxInstance | null>((resolve) => waiting.push(resolve));
    this.waiters.set(runtime, waiting);
    // Decided first: the start this fill may make is for the raised target, not for this take, which would
    // otherwise wait for it rather than start its own (a start of its own does not wait for a free core).
    this.fill();
    return handed;
  }

  // Disposes of the idle sandboxes of a runtime that `replace` picks, and of those it picks when they get ready
  // from now on, and starts others in their place (the fork server got ready: sandboxes started on their own are
  // slower to use than its children).
  replaceIdle(runtime: Kind, replace: (instance: SandboxInstance) => boolean): void {
    this.replacing.set(runtime, replace);
    const list = this.ready.get(runtime);
    if (!list || this.closed) return;
    const stale = list.filter(replace);
    if (stale.length === 0) return;
    // Taken out of the same array (its watchers hold it), so that their disposal is not mistaken for a death.
    for (const instance of stale) list.splice(list.indexOf(instance), 1);
    for (const instance of stale) this.track(instance.dispose());
    this.fill();
  }

  // Disposes of every idle sandbox; sandboxes still starting are disposed of when they are up.
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of [...this.timers, ...this.shrinkTimers.values()]) clearTimeout(timer);
    if (this.heldRefill) clearTimeout(this.heldRefill);
    for (const waiting of this.waiters.values()) for (const waiter of waiting.splice(0)) waiter(null);
    const idle = [...this.ready.values()].flatMap((list) => list.splice(0));
    await Promise.all(idle.map((instance) => instance.dispose()));
    await Promise.all([...this.tasks]);
  }

  // True when the runtime has fewer sandboxes ready or starting than its target and may start one now: a runtime
  // whose last start failed waits out its backoff, then tries one sandbox at a time until one starts.
  private wantsAnother(runtime: Kind): boolean {
    const starting = this.starting.get(runtime) ?? 0;
    if ((this.ready.get(runtime)?.length ?? 0) + starting >= this.targetOf(runtime)) return false;
    if ((this.failures.get(runtime) ?? 0) === 0) return true;
    return starting === 0 && !this.backingOff.has(runtime);
  }

  // True when a refill may start now (warm-demand.ts): at once while a core is left that nobody can be using, and
  // past that when the cores were measured idle enough, less a core for each start the measurement does not show.
  private hasFreeCore(): boolean {
    let starting = 0;
    for (const count of this.starting.values()) starting += count;
    const share = { cores: this.cores, runningExecutions: this.runningExecutions(), starting, idleCores: null };
    if (mayStartRefill(share)) return true;
    const idle = this.cpuIdle.idle(performance.now());
    if (idle === null) return false;
    let unseen = 0;
    for (const at of this.startTimes) if (at > idle.since) unseen += 1;
    return mayStartRefill({ ...share, idleCores: idle.idleCores - unseen });
  }

  // Looks again shortly at refills held back for lack of a free core (one timer, however many wait).
  private fillLater(): void {
    if (this.heldRefill || this.closed) return;
    this.heldRefill = setTimeout(() => {
      this.heldRefill = null;
      this.fill();
    }, HELD_REFILL_POLL_MS);
    this.heldRefill.unref();
  }

  // Starts the replacement of a taken sandbox a moment later: started at once, it would compete for the CPU
  // with the code that just got the sandbox (most executions are done in a few ms).
  private refillSoon(): void {
    this.later(REFILL_DELAY_MS, () => this.fill());
  }

  // One more for the runtime's target, and a fresh quiet period before it drops again.
  private noteMiss(runtime: Kind): void {
    const before = this.targetOf(runtime);
    const demand = afterMiss(this.demand.get(runtime) ?? initialDemand(this.limits), this.limits, performance.now());
    this.demand.set(runtime, demand);
    if (demand.target !== before) this.log.debug({ runtime, target: demand.target }, 'warm pool target raised');
    this.scheduleShrink(runtime, demand);
  }

  private scheduleShrink(runtime: Kind, demand: Demand): void {
    clearTimeout(this.shrinkTimers.get(runtime));
    this.shrinkTimers.delete(runtime);
    const at = nextShrinkAt(demand, this.limits);
    if (at === null || this.closed) return;
    const timer = setTimeout(() => this.shrink(runtime), Math.max(0, at - performance.now()));
    timer.unref();
    this.shrinkTimers.set(runtime, timer);
  }

  // After a quiet period: the target back to the minimum, and the idle sandboxes past it disposed of (the newest:
  // the older ones may have preloaded already).
  private shrink(runtime: Kind): void {
    this.shrinkTimers.delete(runtime);
    const before = this.targetOf(runtime);
    const demand = afterQuiet(this.demand.get(runtime) ?? initialDemand(this.limits), this.limits, performance.now());
    this.demand.set(runtime, demand);
    const list = this.ready.get(runtime) ?? [];
    while (list.length > 0 && list.length + (this.starting.get(runtime) ?? 0) > demand.target) {
      this.track((list.pop() as SandboxInstance).dispose());
    }
    if (demand.target !== before) this.log.debug({ runtime, target: demand.target }, 'warm pool target lowered after a quiet period');
    this.scheduleShrink(runtime, demand);
  }

  private startOne(runtime: Kind): void {
    const startedAt = performance.now();
    this.startTimes.push(startedAt);
    this.starting.set(runtime, (this.starting.get(runtime) ?? 0) + 1);
    const task = this.warmUp(runtime).finally(() => {
      this.startTimes.splice(this.startTimes.indexOf(startedAt), 1);
      this.starting.set(runtime, (this.starting.get(runtime) ?? 1) - 1);
      this.tasks.delete(task);
      // A sandbox handed straight to a waiter leaves the pool short, and the core it used is free again.
      this.fill();
    });
    this.tasks.add(task);
  }

  // Starts one sandbox and, once its prelude is connected, makes it available.
  private async warmUp(runtime: Kind): Promise<void> {
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
      if (!ok && !this.closed) {
        const retryInMs = this.retryLater(runtime);
        const problem = instance?.startProblem;
        this.log.warn({ runtime, retryInMs, ...(problem ? { problem } : {}) }, 'a warm sandbox did not start; trying again after a backoff');
      }
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
    this.ready.set(runtime, list);
    // The target dropped while this one started: it is one too many.
    if (list.length >= this.targetOf(runtime)) return instance.dispose();
    list.push(instance);
    const idle = instance;
    // Only a sandbox that has really been idle gets the extra work: in a burst of requests it would compete
    // with the code for the CPU.
    this.later(this.idleDelayMs, () => {
      if (list.includes(idle)) this.onIdle(idle, runtime);
    });
    // An idle sandbox that dies (it should not) leaves the pool and is replaced.
    void idle.exited.then(() => {
      const index = list.indexOf(idle);
      if (index === -1) return;
      list.splice(index, 1);
      this.log.warn({ runtime }, 'an idle warm sandbox exited; replacing it');
      this.track(idle.dispose());
      this.retryLater(runtime);
    });
  }

  // Tries again after a backoff that doubles with each failure in a row, so a broken runtime cannot spin; returns it.
  private retryLater(runtime: Kind): number {
    const failures = (this.failures.get(runtime) ?? 0) + 1;
    this.failures.set(runtime, failures);
    const retryInMs = Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures);
    this.backingOff.add(runtime);
    this.later(retryInMs, () => {
      this.backingOff.delete(runtime);
      this.fill();
    });
    return retryInMs;
  }

  private later(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private track(disposal: Promise<void>): void {
    const task = disposal.finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }
}
