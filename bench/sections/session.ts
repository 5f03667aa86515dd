// The same requests in a session (a conversation): each execution gets a fresh sandbox bound to the session's
// workspace, which the session's own warm sandbox makes ready (and preloads) between its executions. No target
// of its own; the baselines are the cold chart script and the bare spawn of this run.
import { trivialBaselines } from '../lib/baselines.js';
import { createSession, deleteSession, execute } from '../lib/client.js';
import { CHART_RUNBOX, TRIVIAL } from '../lib/programs.js';
import { printSeries } from '../lib/report.js';
import { summarize, timeRuns } from '../lib/stats.js';
import { chartRuns, coldChart } from './chart.js';
import { settle, type BenchContext } from './context.js';

// Prints a session's chart (1.5 s apart) and trivial execution (100 ms apart) against their baselines.
export async function sessionSection(context: BenchContext): Promise<void> {
  const { url } = context.daemon;
  const cold = await coldChart(context);
  const sessionId = await createSession(url, 'python');
  try {
    await settle(context);
    const chart = summarize(await timeRuns({ runs: chartRuns(context), pauseMs: 1500 }, () => execute(url, { runtime: 'python', code: CHART_RUNBOX, sessionId })));
    printSeries(`python session, chart, 1.5 s apart, ${chartRuns(context)} runs:`, [
      { label: 'cold python3 chart.py', summary: cold },
      { label: 'runbox session (HTTP POST, PNG returned)', summary: chart },
    ]);
    const { bare } = trivialBaselines(context.host).python;
    await settle(context);
    const bareTrivial = summarize(await timeRuns({ runs: context.runs, pauseMs: 100 }, bare.run));
    await settle(context);
    const trivial = summarize(await timeRuns({ runs: context.runs, pauseMs: 100 }, () => execute(url, { runtime: 'python', code: TRIVIAL.python, sessionId })));
    printSeries(`python session, trivial ("${TRIVIAL.python}"), 100 ms apart, ${context.runs} runs:`, [
      { label: bare.label, summary: bareTrivial },
      { label: 'runbox session (HTTP POST)', summary: trivial },
    ]);
  } finally {
    await deleteSession(url, sessionId);
  }
}
