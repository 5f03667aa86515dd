// What the daemon can do right now: every runtime that failed its start-up probe is refused, and this module is
// the one place that decides what a closing daemon still answers. Health and the runtime list are still
// answered (health with 503 and the problem); new executions, sessions and WebSocket connections are refused
// with shutting_down.
import { WireError } from '../errors.js';
import type { RuntimeStatus } from '../sandbox/probe.js';
import type { RuntimeName } from '../sandbox/runtimes.js';

/** What the routes see of the daemon: its probed runtimes, whether code runs sandboxed, whether it is closing. */
export interface DaemonState {
  readonly runtimes: readonly RuntimeStatus[];
  readonly sandboxed: boolean;
  readonly closing: boolean;
}

/** The work a closing daemon refuses, each with the message of its shutting_down. */
const REFUSED_WHILE_CLOSING = {
  execution: 'the daemon is shutting down and accepts no new executions',
  session: 'the daemon is shutting down; its sessions are being removed',
  connection: 'the daemon is shutting down',
} as const;

/** A kind of work a closing daemon refuses; null for what it still answers. */
export type ClosingRefusal = keyof typeof REFUSED_WHILE_CLOSING | null;

// Throws shutting_down when the daemon is closing and refuses this kind of work then.
export function checkOpenFor(state: Pick<DaemonState, 'closing'>, work: ClosingRefusal): void {
  if (state.closing && work !== null) throw new WireError('shutting_down', REFUSED_WHILE_CLOSING[work]);
}

// The problem health reports for a closing daemon, or null while it is open.
export function closingProblem(state: Pick<DaemonState, 'closing'>): string | null {
  return state.closing ? 'the daemon is shutting down' : null;
}

// Throws shutting_down (a closing daemon) or runtime_unavailable (with the probe's reason and fix).
export function checkRuntimeAvailable(state: Pick<DaemonState, 'closing' | 'runtimes'>, runtime: RuntimeName): void {
  checkOpenFor(state, 'execution');
  const status = state.runtimes.find((r) => r.name === runtime);
  if (!status?.available) throw new WireError('runtime_unavailable', `runtime ${runtime} cannot run code: ${status?.problem ?? 'not probed'}`);
}
