// Refuses work the daemon cannot do right now: a runtime that failed its start-up probe, or a daemon that is closing.
import { WireError } from '../errors.js';
import type { RuntimeStatus } from '../sandbox/probe.js';
import type { RuntimeName } from '../sandbox/runtimes.js';

export interface RuntimeAvailability {
  readonly runtimes: readonly RuntimeStatus[];
  readonly closing: boolean;
}

// Throws runtime_unavailable (with the probe's reason and fix) or shutting_down.
export function checkRuntimeAvailable(state: RuntimeAvailability, runtime: RuntimeName): void {
  if (state.closing) throw new WireError('shutting_down', 'the daemon is shutting down and accepts no new executions');
  const status = state.runtimes.find((r) => r.name === runtime);
  if (!status?.available) throw new WireError('runtime_unavailable', `runtime ${runtime} cannot run code: ${status?.problem ?? 'not probed'}`);
}
