// The typical request, a matplotlib chart from a DataFrame: Runbox 1.5 s apart (warm sandboxes preload numpy,
// pandas and pyplot while idle) and back to back, against a cold `python3 chart.py` and the warm Jupyter
// kernel. Target: ≤ 0.1x the cold script, both ways.
import fs from 'node:fs/promises';
import path from 'node:path';
import { execute } from '../lib/client.js';
import { CHART_RUNBOX, CHART_SCRIPT } from '../lib/programs.js';
import { printSeries, type SeriesRow } from '../lib/report.js';
import { spawnToEnd } from '../lib/spawn.js';
import { formatMs, summarize, timeRuns, type Summary } from '../lib/stats.js';
import { settle, type BenchContext } from './context.js';

/** An agent's requests come seconds apart: time for the pool to refill and preload. */
const AGENT_PAUSE_MS = 1500;
const LIMIT = 0.1;

// Chart runs per series: a quarter of BENCH_RUNS, at least 5 (a chart costs a second cold).
export const chartRuns = (context: BenchContext): number => Math.max(5, Math.round(context.runs / 4));

// The cold baseline, measured once per run: the chart as a script, a new bare python3 each time, with the
// matplotlib font cache prebuilt (as the sandbox has it). Pacing changes nothing for a new process.
export function coldChart(context: BenchContext): Promise<Summary> {
  const env = { MPLBACKEND: 'Agg', MPLCONFIGDIR: path.join(context.host.pythonEnv, 'mpl-cache') };
  return context.memo.get('coldChart', () => coldScript(context, 'chart.py', CHART_SCRIPT, env));
}

// A script run by a new bare python3 each time (chartRuns runs, one warm-up), from a scratch directory of its own.
export async function coldScript(context: BenchContext, name: string, script: string, env: Readonly<Record<string, string>> = {}): Promise<Summary> {
  const dir = await fs.mkdtemp(path.join(context.scratchDir, `${path.parse(name).name}-`));
  await fs.writeFile(path.join(dir, name), script);
  await settle(context);
  return summarize(await timeRuns({ runs: chartRuns(context), pauseMs: 0, warmups: 1 }, () => spawnToEnd(context.host.pythonPath, [name], { cwd: dir, env })));
}

// Prints the chart paced as an agent and back to back, and records both targets.
export async function chartSection(context: BenchContext): Promise<void> {
  const runs = chartRuns(context);
  const cold = await coldChart(context);
  const kernel = context.jupyter;
  const jupyter: SeriesRow = kernel
    ? { label: 'jupyter kernel, warm, no isolation', summary: summarize(await timeRuns({ runs, pauseMs: 0 }, () => kernel.run(CHART_SCRIPT))), note: '(kernel: pacing does not matter)' }
    : { label: 'jupyter kernel', summary: null, note: context.jupyterMissing ?? '' };
  for (const [name, pauseMs] of [[`${AGENT_PAUSE_MS / 1000} s apart`, AGENT_PAUSE_MS], ['back to back', 0]] as const) {
    await settle(context);
    const runbox = summarize(await timeRuns({ runs, pauseMs }, () => execute(context.daemon.url, { runtime: 'python', code: CHART_RUNBOX })));
    const target = context.targets.record({
      name: `python chart, ${name}`,
      runbox: formatMs(runbox.medianMs),
      baseline: `${formatMs(cold.medianMs)} cold script`,
      measured: runbox.medianMs / cold.medianMs,
      comparison: '<=',
      limit: LIMIT,
      unit: 'x',
    });
    printSeries(`matplotlib chart (chart.png from a DataFrame), ${name}, ${runs} runs:`, [
      { label: 'cold python3 chart.py', summary: cold, note: '(measured once per run)' },
      jupyter,
      { label: 'runbox (HTTP POST, PNG returned)', summary: runbox, note: target },
    ]);
  }
}
