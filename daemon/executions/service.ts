// Starts executions, keeps the warm pool of sandboxes, and tracks the running executions so the daemon can
// cancel them all when it stops.
import { randomUUID } from 'node:crypto';
import type { RuntimeName } from '../sandbox/runtimes.js';
import { Execution, type ExecutionContext, type ExecutionHooks } from './execution.js';
import type { ExecutionRequest } from './request.js';
import type { ExecutionResult } from './result.js';
import { SandboxInstance } from './sandbox-instance.js';
import { WarmPool } from './warm-pool.js';

/** How long a warm sandbox waits unused before it preloads modules (a burst of requests never pays for it). */
const PRELOAD_AFTER_IDLE_MS = 300;

export interface StartedExecution {
  readonly execution: Execution;
  readonly result: Promise<ExecutionResult>;
}

export class ExecutionService {
  private readonly running = new Set<Execution>();
  private readonly pool: WarmPool;

  constructor(
    private readonly context: ExecutionContext,
    /** Runtimes that passed their start-up probe: only those get warm sandboxes. */
    runtimes: readonly RuntimeName[],
  ) {
    const preload = context.config.pythonPreload;
    this.pool = new WarmPool(context.config.warmSandboxes, runtimes, (runtime) => SandboxInstance.start(runtime, context), context.logger, (instance) => {
      if (instance.runtime === 'python' && preload.length > 0) instance.send({ type: 'preload', modules: preload });
    }, PRELOAD_AFTER_IDLE_MS);
    this.pool.fill();
  }

  // Starts one execution; its result promise never rejects for anything the code does.
  start(request: ExecutionRequest, hooks: ExecutionHooks): StartedExecution {
    const execution = new Execution(randomUUID(), request, this.context, hooks, (runtime) => this.pool.take(runtime));
    this.running.add(execution);
    const result = execution.run();
    void result.finally(() => execution.cleanedUp).finally(() => this.running.delete(execution)).catch(() => undefined);
    return { execution, result };
  }

  get runningCount(): number {
    return this.running.size;
  }

  // Cancels every running execution, waits for their cleanup, and disposes of the warm sandboxes.
  async close(): Promise<void> {
    for (const execution of this.running) execution.cancel();
    await this.pool.close();
    while (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
