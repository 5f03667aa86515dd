// Starts executions and keeps track of the running ones, so the daemon can cancel them all when it stops.
import { randomUUID } from 'node:crypto';
import { Execution, type ExecutionContext, type ExecutionHooks } from './execution.js';
import type { ExecutionRequest } from './request.js';
import type { ExecutionResult } from './result.js';

export interface StartedExecution {
  readonly execution: Execution;
  readonly result: Promise<ExecutionResult>;
}

export class ExecutionService {
  private readonly running = new Set<Execution>();

  constructor(private readonly context: ExecutionContext) {}

  // Starts one execution; its result promise never rejects for anything the code does.
  start(request: ExecutionRequest, hooks: ExecutionHooks): StartedExecution {
    const execution = new Execution(randomUUID(), request, this.context, hooks);
    this.running.add(execution);
    const result = execution.run().finally(() => this.running.delete(execution));
    return { execution, result };
  }

  get runningCount(): number {
    return this.running.size;
  }

  // Cancels every running execution (used when the daemon closes).
  cancelAll(): void {
    for (const execution of this.running) execution.cancel();
  }
}
