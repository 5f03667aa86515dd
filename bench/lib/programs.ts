// The code every contestant runs: the trivial programs, the chart, and the tool-call loops (which time
// themselves inside the sandbox and return their timings, so that only the round trips are measured).

/** The trivial programs, as the baselines spell them (`python3 -c pass`, `node -e 0`). */
export const TRIVIAL = Object.freeze({ python: 'pass', node: '0' });

/** The typical request: a matplotlib chart from a DataFrame, saved to a file (runs as is under a bare python3). */
export const CHART_SCRIPT = `
import matplotlib.pyplot as plt, numpy as np, pandas as pd
df = pd.DataFrame({"x": np.arange(50), "y": np.random.default_rng(1).normal(size=50).cumsum()})
df.plot(x="x", y="y")
plt.savefig("chart.png")
`;

/** The chart through Runbox, which also returns the file (and, like Jupyter's inline backend, the open figure). */
export const CHART_RUNBOX = `${CHART_SCRIPT}set_result(len(df), files=["chart.png"])\n`;

/** Allocation-heavy pandas code: 200,000 small dicts into a DataFrame, grouped (runs as is under a bare python3).
 * Enough objects that the collector's full collections run while it does. */
export const OBJECTS_SCRIPT = `
import pandas as pd
rows = [{"id": i, "group": i % 7} for i in range(200_000)]
df = pd.DataFrame(rows)
total = int(df.groupby("group")["id"].sum().sum())
`;

/** The same through Runbox, returning the total. */
export const OBJECTS_RUNBOX = `${OBJECTS_SCRIPT}set_result(total)\n`;

/** What each sequential tool-call loop returns. */
export interface SequentialTimings {
  readonly seq: number[];
  readonly totalMs: number;
  /** Python: CPU the process's other threads (a preload) used while the loop ran. */
  readonly otherThreadsCpuMs?: number;
}

// Python: `calls` sequential echo calls, each timed, with the CPU other threads of the process used meanwhile
// (process_time counts every thread, thread_time only this one).
export function pythonSequential(calls: number): string {
  return `
import time
seq = []
cpu0, own0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
for i in range(${calls}):
    t = time.perf_counter(); call_tool("echo", {"i": i}); seq.append((time.perf_counter() - t) * 1000)
total = (time.perf_counter() - t0) * 1000
other = ((time.process_time() - cpu0) - (time.thread_time() - own0)) * 1000
set_result({"seq": seq, "totalMs": total, "otherThreadsCpuMs": other})
`;
}

// Node: `calls` sequential echo calls, each timed.
export function nodeSequential(calls: number): string {
  return `
const seq = [];
const t0 = performance.now();
for (let i = 0; i < ${calls}; i++) { const t = performance.now(); await callTool("echo", { i }); seq.push(performance.now() - t); }
return { seq, totalMs: performance.now() - t0 };
`;
}

// Python: `calls` echo calls at once through asyncio.gather, timed as a whole.
export function pythonGathered(calls: number): string {
  return `
import time, asyncio
t = time.perf_counter()
await asyncio.gather(*[echo(i) for i in range(${calls})])
set_result({"totalMs": (time.perf_counter() - t) * 1000})
`;
}

// Node: `calls` echo calls at once through Promise.all, timed as a whole.
export function nodeGathered(calls: number): string {
  return `
const t = performance.now();
await Promise.all(Array.from({ length: ${calls} }, (_, i) => echo(i)));
return { totalMs: performance.now() - t };
`;
}
