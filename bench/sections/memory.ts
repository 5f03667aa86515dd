// Memory: the daemon's own RSS (it runs in a process of its own, so the bench's memory is not in it) idle and
// after the run, and the memory of each idle warm sandbox: the summed RSS and PSS of the processes below each of
// the daemon's children (found in /proc, so it holds however the daemon builds its sandboxes). Target: the
// daemon's idle RSS ≤ 80 MB.
import path from 'node:path';
import { childTrees, commandLine, memoryOf, treePids, type Memory } from '../lib/proc.js';
import { toMB } from '../lib/report.js';
import { sleep } from '../lib/stats.js';
import { settle, type BenchContext } from './context.js';

const IDLE_RSS_LIMIT_MB = 80;
/** How long the daemon is up before its idle RSS is read: V8 gives back the garbage of the start-up (the runtime
 * probes, the first warm sandboxes) only once the process has been idle about 10 s (its memory reducer). */
const IDLE_UPTIME_MS = 15_000;

const mb = (bytes: number) => `${toMB(bytes).toFixed(1)} MB`;
const both = (memory: Memory) => `RSS ${mb(memory.rssBytes).padStart(9)}, PSS ${mb(memory.pssBytes).padStart(9)}`;

// The runtime a process tree runs: the interpreter among its processes' executables (bubblewrap's command line
// names both runtimes' directories, so only argv[0] is looked at).
function runtimeOf(pids: readonly number[]): string {
  const programs = pids.map((pid) => path.basename(commandLine(pid).split(' ')[0] ?? ''));
  if (programs.some((name) => name.startsWith('python'))) return 'python';
  if (programs.some((name) => name === 'node')) return 'node';
  return programs.filter(Boolean).join('+') || 'gone';
}

// Prints the daemon's memory and each of its process trees (its idle warm sandboxes, once it has settled).
function printTrees(context: BenchContext): void {
  const perRuntime = new Map<string, { count: number; rssBytes: number; pssBytes: number }>();
  for (const tree of childTrees(context.daemon.pid)) {
    const runtime = runtimeOf(tree.pids);
    const memory = memoryOf(tree.pids);
    console.log(`  ${`sandbox tree ${tree.childPid} (${runtime}, ${tree.pids.length} processes)`.padEnd(52)} ${both(memory)}`);
    const sum = perRuntime.get(runtime) ?? { count: 0, rssBytes: 0, pssBytes: 0 };
    perRuntime.set(runtime, { count: sum.count + 1, rssBytes: sum.rssBytes + memory.rssBytes, pssBytes: sum.pssBytes + memory.pssBytes });
  }
  for (const [runtime, sum] of perRuntime) console.log(`  ${`all ${runtime} sandboxes (${sum.count})`.padEnd(52)} ${both(sum)}`);
  if (perRuntime.size === 0) console.log('  (no process below the daemon: no warm sandbox)');
}

// The idle daemon and its warm sandboxes before any execution, with the target; and the Jupyter kernel for scale.
export async function memoryAtStartSection(context: BenchContext): Promise<void> {
  await sleep(Math.max(0, context.daemon.readyAt + IDLE_UPTIME_MS - Date.now()));
  const note = await settle(context);
  const uptimeS = ((Date.now() - context.daemon.readyAt) / 1000).toFixed(0);
  const daemon = memoryOf([context.daemon.pid]);
  const target = context.targets.record({
    name: 'daemon RSS, idle',
    runbox: mb(daemon.rssBytes),
    baseline: '',
    measured: toMB(daemon.rssBytes),
    comparison: '<=',
    limit: IDLE_RSS_LIMIT_MB,
    unit: 'MB',
  });
  console.log(`memory, idle before any execution${note ? ` ${note}` : ''} (the daemon in its own process; sandboxes summed over their processes):`);
  console.log(`  ${'daemon when it first answered healthy'.padEnd(52)} RSS ${mb(context.daemon.rssAtReadyBytes).padStart(9)}`);
  console.log(`  ${`daemon idle, up ${uptimeS} s (pid ${context.daemon.pid})`.padEnd(52)} ${both(daemon)}  ${target}`);
  printTrees(context);
  if (context.jupyter) {
    const kernel = memoryOf(treePids(context.jupyter.info.kernelPid));
    console.log(`  ${'jupyter kernel, warm (peer, no isolation)'.padEnd(52)} ${both(kernel)}`);
  }
}

// The daemon and its sandboxes again once the run is over and the daemon has settled.
export async function memoryAtEndSection(context: BenchContext): Promise<void> {
  const note = await settle(context);
  console.log(`memory after the run, settled${note ? ` ${note}` : ''}:`);
  const after = context.figures.get('rssAfterThroughputBytes');
  if (after !== undefined) console.log(`  ${'daemon right after the throughput run'.padEnd(52)} RSS ${mb(after).padStart(9)}`);
  console.log(`  ${'daemon now'.padEnd(52)} ${both(memoryOf([context.daemon.pid]))}`);
  printTrees(context);
}
