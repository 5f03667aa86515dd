// Tool-call round trips from the code to a WebSocket client: 1,000 sequential calls in a sandbox just handed out
// (it may still be preloading: the issue saw 720–760 ms instead of 130–290 ms) and in one handed out once the
// daemon had settled; and 10,000 calls at once through asyncio.gather / Promise.all.
// Targets: sequential median < 0.15 ms, both ways; 10,000 gathered < 1 s. Next to each runtime's sequential
// figures, the floor of this machine: the same round trip through three bare processes (lib/relay-floor.ts).
import { execute, executeWithEcho } from '../lib/client.js';
import { relayFloor } from '../lib/relay-floor.js';
import { nodeGathered, nodeSequential, pythonGathered, pythonSequential, TRIVIAL, type SequentialTimings } from '../lib/programs.js';
import { formatMs, sleep, summarize } from '../lib/stats.js';
import { settle, type BenchContext } from './context.js';

const SEQUENTIAL_CALLS = 1000;
/** The daemon's default maxToolCalls: the most one execution may make. */
const GATHERED_CALLS = 10_000;
const SEQUENTIAL_LIMIT_MS = 0.15;
const GATHERED_LIMIT_MS = 1000;
/** The pause after the previous execution before the "just handed out" run: the pacing at which the trivial
 * section finds a warm sandbox, which may not have finished its background work yet. */
const HANDED_OUT_PAUSE_MS = 100;

const PROGRAMS = {
  python: { sequential: pythonSequential(SEQUENTIAL_CALLS), gathered: pythonGathered(GATHERED_CALLS), gatherName: 'asyncio.gather' },
  node: { sequential: nodeSequential(SEQUENTIAL_CALLS), gathered: nodeGathered(GATHERED_CALLS), gatherName: 'Promise.all' },
} as const;

// Prints the three tool-call measurements of each runtime and records their targets.
export async function toolsSection(context: BenchContext): Promise<void> {
  const { url, wsUrl } = context.daemon;
  console.log('tool calls from the code to this WebSocket client (an echo tool answered at once; timed inside the sandbox):');
  console.log(`  (just handed out: ${HANDED_OUT_PAUSE_MS} ms after another execution took the warm sandbox, so background work may still run;`);
  console.log('   settled: once the daemon and its sandboxes had used no CPU for 0.5 s. Python also prints the CPU its other');
  console.log('   threads used during the loop: the bridge reader, and any preloading left)');
  for (const runtime of ['python', 'node'] as const) {
    const programs = PROGRAMS[runtime];
    await settle(context);
    const interpreter = runtime === 'python' ? context.host.pythonPath : context.host.nodePath;
    const floor = summarize(await relayFloor(runtime, interpreter, context.scratchDir, SEQUENTIAL_CALLS));
    console.log(`  ${runtime.padEnd(7)} ${`${SEQUENTIAL_CALLS} sequential, floor: bare ${runtime} → relay → here`.padEnd(44)} median ${formatMs(floor.medianMs)}, p95 ${formatMs(floor.p95Ms)}  (no sandbox, WebSocket or JSON)`);
    // Just handed out: another execution took the warm sandbox a moment ago, as in a conversation.
    await settle(context);
    await execute(url, { runtime, code: TRIVIAL[runtime] });
    await sleep(HANDED_OUT_PAUSE_MS);
    const fresh = (await executeWithEcho(wsUrl, runtime, programs.sequential)) as SequentialTimings;
    printSequential(context, runtime, 'just handed out', fresh, floor.medianMs);
    const settleNote = await settle(context);
    const settled = (await executeWithEcho(wsUrl, runtime, programs.sequential)) as SequentialTimings;
    printSequential(context, runtime, `settled${settleNote ? ` ${settleNote}` : ''}`, settled, floor.medianMs);
    await settle(context);
    const { totalMs } = (await executeWithEcho(wsUrl, runtime, programs.gathered)) as { totalMs: number };
    const target = context.targets.record({
      name: `${runtime} ${GATHERED_CALLS} tool calls, ${programs.gatherName}`,
      runbox: formatMs(totalMs),
      baseline: '',
      measured: totalMs,
      comparison: '<',
      limit: GATHERED_LIMIT_MS,
      unit: 'ms',
    });
    console.log(`  ${runtime.padEnd(7)} ${`${GATHERED_CALLS} through ${programs.gatherName}`.padEnd(44)} total ${formatMs(totalMs)}  ${target}`);
  }
}

function printSequential(context: BenchContext, runtime: 'python' | 'node', when: string, timings: SequentialTimings, floorMs: number): void {
  const { medianMs, p95Ms } = summarize(timings.seq);
  const overFloor = `${(medianMs / floorMs).toFixed(2)}x the floor`;
  const target = context.targets.record({
    name: `${runtime} sequential tool call, ${when.split(' (')[0]}`,
    runbox: `${formatMs(medianMs)}, ${overFloor}`,
    baseline: `${formatMs(floorMs)} floor`,
    measured: medianMs,
    comparison: '<',
    limit: SEQUENTIAL_LIMIT_MS,
    unit: 'ms',
  });
  const background = timings.otherThreadsCpuMs === undefined ? '' : `, other threads ${formatMs(timings.otherThreadsCpuMs)} CPU`;
  console.log(`  ${runtime.padEnd(7)} ${`${SEQUENTIAL_CALLS} sequential, ${when}`.padEnd(44)} median ${formatMs(medianMs)}, p95 ${formatMs(p95Ms)}, total ${formatMs(timings.totalMs)}${background}, ${overFloor}  ${target}`);
}
