// Allocation-heavy code in a preloaded sandbox: 200,000 small dicts into a pandas DataFrame, 1.5 s apart, against
// the same cold `python3 objects.py`. No target of issue 12; it shows what the fork server's children pay for
// the collector (a full collection in a child must not walk the preloaded image it shares with the server).
import { execute } from '../lib/client.js';
import { OBJECTS_RUNBOX, OBJECTS_SCRIPT } from '../lib/programs.js';
import { printSeries } from '../lib/report.js';
import { summarize, timeRuns } from '../lib/stats.js';
import { chartRuns, coldScript } from './chart.js';
import { settle, type BenchContext } from './context.js';

const PAUSE_MS = 1500;

export async function objectsSection(context: BenchContext): Promise<void> {
  const runs = chartRuns(context);
  const cold = await coldScript(context, 'objects.py', OBJECTS_SCRIPT);
  await settle(context);
  const runbox = summarize(await timeRuns({ runs, pauseMs: PAUSE_MS }, () => execute(context.daemon.url, { runtime: 'python', code: OBJECTS_RUNBOX })));
  printSeries(`allocation-heavy pandas (200,000 dicts into a DataFrame), ${PAUSE_MS / 1000} s apart, ${runs} runs:`, [
    { label: 'cold python3 objects.py', summary: cold, note: '' },
    { label: 'runbox (HTTP POST)', summary: runbox, note: '(no target)' },
  ]);
}
