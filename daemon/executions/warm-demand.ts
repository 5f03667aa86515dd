// Pure: how many warm sandboxes a runtime's pool aims for, and whether a refill may start now. The target grows by
// one for each take that finds no sandbox ready (a miss) up to a maximum, and after a quiet period without misses
// goes back to the minimum. A refill starts only when it takes no core from running code: at once while the
// executions running and the sandboxes starting leave a core that nobody can be using, and beyond that only when
// the cores were measured idle enough (the executions wait for tools, or are trivial).

/** The bounds and pace of one runtime's target. */
export interface DemandLimits {
  /** The target never drops below this (warmSandboxes). */
  readonly min: number;
  /** Nor grows above this (maxWarmSandboxes, at most maxConcurrent). */
  readonly max: number;
  /** A target above min goes back to min after this long without a miss. */
  readonly shrinkAfterMs: number;
}

/** One runtime's target and when a take last found nothing ready. */
export interface Demand {
  readonly target: number;
  /** -Infinity before the first miss. */
  readonly lastMissAt: number;
}

// The demand of a pool that has seen no take yet: the minimum.
export function initialDemand(limits: DemandLimits): Demand {
  return { target: limits.min, lastMissAt: -Infinity };
}

// After a take found nothing ready: one more, up to the maximum; the quiet period starts again.
export function afterMiss(demand: Demand, limits: DemandLimits, nowMs: number): Demand {
  return { ...demand, target: Math.min(limits.max, Math.max(limits.min, demand.target + 1)), lastMissAt: nowMs };
}

// When the target goes back to the minimum, or null when it is there already.
export function nextShrinkAt(demand: Demand, limits: DemandLimits): number | null {
  return demand.target <= limits.min ? null : demand.lastMissAt + limits.shrinkAfterMs;
}

// The minimum once a whole quiet period has passed since the last miss; unchanged before.
export function afterQuiet(demand: Demand, limits: DemandLimits, nowMs: number): Demand {
  const at = nextShrinkAt(demand, limits);
  return at === null || nowMs < at ? demand : { ...demand, target: limits.min };
}

/** A refill beyond the count rule needs this many cores measured idle: a start keeps about one busy for tens of
 * ms, and code that is computing leaves less than this free on its core. */
export const IDLE_CORES_FOR_A_START = 0.5;

/** What decides whether a refill may start. */
export interface CpuShare {
  /** Cores the daemon's sandboxes may use. */
  readonly cores: number;
  /** Executions running now (holding a slot). */
  readonly runningExecutions: number;
  /** Warm sandboxes starting now; a start keeps a core busy for tens of ms (bubblewrap, then node or python). */
  readonly starting: number;
  /** Cores found idle over a window that began after the last start, or null when unknown. */
  readonly idleCores: number | null;
}

// True when one more sandbox can start without taking a core from running code: never more starts than cores; at
// once while the executions running and the starts leave a core that nobody can be using; beyond that only when
// the cores were measured idle enough since the last start (executions waiting for tools, or trivial ones).
export function mayStartRefill(share: CpuShare): boolean {
  if (share.starting >= share.cores) return false;
  if (share.starting + share.runningExecutions < share.cores) return true;
  return share.idleCores !== null && share.idleCores >= IDLE_CORES_FOR_A_START;
}
