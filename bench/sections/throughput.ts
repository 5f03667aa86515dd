// Sustained throughput: 200 trivial Python executions with 4 in flight through the daemon, against spawning the
// bare interpreter, and the interpreter in a minimal bubblewrap sandbox, 4 at a time. Target: Runbox ≥ 1.0x bare.
import os from 'node:os';
import { trivialBaselines } from '../lib/baselines.js';
import { execute } from '../lib/client.js';
import { cpuTimeMsOf, hostCpuTimeMs, memoryOf } from '../lib/proc.js';
import { toMB } from '../lib/report.js';
import { runConcurrently, summarize, formatMs, type ConcurrentRun } from '../lib/stats.js';
import { TRIVIAL } from '../lib/programs.js';
import { settle, type BenchContext } from './context.js';

const TOTAL = 200;
const IN_FLIGHT = 4;
/** Untimed runs first, so the first timed ones do not pay for connection set-up or a cold page cache. */
const WARMUP = 8;

// onTimed, if given, is called right before the timed runs, and what it answers right after them.
async function measure(context: BenchContext, run: () => Promise<unknown>, onTimed?: () => () => void): Promise<ConcurrentRun> {
  await runConcurrently(WARMUP, IN_FLIGHT, run);
  await settle(context);
  const timedEnd = onTimed?.();
  const result = await runConcurrently(TOTAL, IN_FLIGHT, run);
  timedEnd?.();
  return result;
}

// Prints executions per second (and each execution's latency) of Runbox and its baselines; records the target
// and the daemon's RSS right after its run.
export async function throughputSection(context: BenchContext): Promise<void> {
  const { python } = trivialBaselines(context.host);
  const bare = await measure(context, python.bare.run);
  const sandboxed = python.sandboxed ? await measure(context, python.sandboxed.run) : null;
  // CPU per execution, the daemon's own and the whole host's (sandboxes, fork servers, kernel threads, this bench):
  // with 4 in flight on 2 cores, throughput is what the CPU can do, so this is where it goes.
  let cpu = { daemonMs: 0, hostMs: 0 };
  const runbox = await measure(context, () => execute(context.daemon.url, { runtime: 'python', code: TRIVIAL.python }), () => {
    const [daemonMs, hostMs] = [cpuTimeMsOf(context.daemon.pid), hostCpuTimeMs()];
    return () => (cpu = { daemonMs: (cpuTimeMsOf(context.daemon.pid) - daemonMs) / TOTAL, hostMs: (hostCpuTimeMs() - hostMs) / TOTAL });
  });
  const rssAfter = memoryOf([context.daemon.pid]).rssBytes;
  context.figures.set('rssAfterThroughputBytes', rssAfter);

  const target = context.targets.record({
    name: `throughput, python, ${IN_FLIGHT} in flight`,
    runbox: `${runbox.perSecond.toFixed(1)}/s`,
    baseline: `${bare.perSecond.toFixed(1)}/s bare`,
    measured: runbox.perSecond / bare.perSecond,
    comparison: '>=',
    limit: 1,
    unit: 'x',
  });
  console.log(`sustained throughput: ${TOTAL} trivial Python executions ("${TRIVIAL.python}"), ${IN_FLIGHT} in flight:`);
  const line = (label: string, run: ConcurrentRun, note = '') => {
    const latency = summarize(run.latenciesMs);
    console.log(`  ${label.padEnd(52)} ${run.perSecond.toFixed(1).padStart(7)}/s  ${(run.perSecond / bare.perSecond).toFixed(2)}x bare | each: median ${formatMs(latency.medianMs)}, p95 ${formatMs(latency.p95Ms)}${note ? `  ${note}` : ''}`);
  };
  line(python.bare.label, bare);
  if (sandboxed && python.sandboxed) line(python.sandboxed.label, sandboxed);
  else console.log('  minimal bwrap: skipped (no bubblewrap on this machine)');
  line('runbox (HTTP POST /v1/executions)', runbox, target);
  if (sandboxed) console.log(`  (runbox is ${(runbox.perSecond / sandboxed.perSecond).toFixed(2)}x the minimal bwrap rate)`);
  console.log(`  runbox CPU per execution: the daemon ${cpu.daemonMs.toFixed(1)} ms, the whole host ${cpu.hostMs.toFixed(1)} ms (the bare spawns' rate leaves ${((1000 * os.availableParallelism()) / bare.perSecond).toFixed(1)} ms of the ${os.availableParallelism()} cores for each)`);
  console.log(`  daemon RSS right after: ${toMB(rssAfter).toFixed(1)} MB`);
}
