// Trivial executions one at a time: 100 ms apart (a warm sandbox is ready) and back to back (the pool cannot
// refill), for each runtime, next to the bare spawn, the minimal bubblewrap spawn and (Python) the warm Jupyter
// kernel. Targets: Python warm ≤ 0.25x bare, back to back ≤ 1.0x; Node warm ≤ 0.3x, back to back ≤ 1.5x.
import { trivialBaselines, type RuntimeBaselines } from '../lib/baselines.js';
import { execute } from '../lib/client.js';
import { TRIVIAL } from '../lib/programs.js';
import { printSeries, type SeriesRow } from '../lib/report.js';
import { formatMs, summarize, timeRuns } from '../lib/stats.js';
import { settle, type BenchContext } from './context.js';

const PACINGS = [
  { name: 'warm, 100 ms apart', pauseMs: 100, limits: { python: 0.25, node: 0.3 } },
  { name: 'back to back', pauseMs: 0, limits: { python: 1.0, node: 1.5 } },
] as const;

// Prints both pacings for both runtimes and records their targets.
export async function trivialSection(context: BenchContext): Promise<void> {
  const baselines = trivialBaselines(context.host);
  for (const runtime of ['python', 'node'] as const) {
    for (const pacing of PACINGS) await printPacing(context, runtime, baselines[runtime], pacing);
  }
}

async function printPacing(context: BenchContext, runtime: 'python' | 'node', baselines: RuntimeBaselines, pacing: (typeof PACINGS)[number]): Promise<void> {
  const timing = { runs: context.runs, pauseMs: pacing.pauseMs };
  // Each series starts from an idle daemon, so that none is slowed by the refill the previous one left behind.
  const timed = async (run: () => Promise<unknown>) => {
    await settle(context);
    return summarize(await timeRuns(timing, run));
  };
  const rows: SeriesRow[] = [{ label: baselines.bare.label, summary: await timed(baselines.bare.run) }];
  rows.push(baselines.sandboxed ? { label: baselines.sandboxed.label, summary: await timed(baselines.sandboxed.run) } : { label: 'minimal bwrap', summary: null, note: 'no bubblewrap here' });
  if (runtime === 'python') {
    const kernel = context.jupyter;
    rows.push(kernel ? { label: 'jupyter kernel, warm, no isolation', summary: await timed(() => kernel.run(TRIVIAL.python)) } : { label: 'jupyter kernel', summary: null, note: context.jupyterMissing ?? '' });
  }
  const runbox = await timed(() => execute(context.daemon.url, { runtime, code: TRIVIAL[runtime] }));
  const bare = rows[0].summary!;
  const target = context.targets.record({
    name: `${runtime} trivial, ${pacing.name}`,
    runbox: formatMs(runbox.medianMs),
    baseline: `${formatMs(bare.medianMs)} bare`,
    measured: runbox.medianMs / bare.medianMs,
    comparison: '<=',
    limit: pacing.limits[runtime],
    unit: 'x',
  });
  rows.push({ label: 'runbox (HTTP POST, answer received)', summary: runbox, note: target });
  printSeries(`trivial ${runtime} ("${TRIVIAL[runtime]}"), ${pacing.name}, ${context.runs} runs:`, rows);
}
