// `npm run bench`: Runbox against its peers, measured side by side in one run on this machine (issue 12).
// Sections (BENCH_ONLY=throughput,tools to pick some): memory, throughput, trivial, chart, objects, session, tools.
// Peers: the bare interpreter spawn, the same spawn in a minimal bubblewrap sandbox, and a warm Jupyter kernel
// without isolation (installed from PyPI into ~/.cache/runbox-bench/jupyter once; BENCH_JUPYTER=0 leaves it out).
// Each target of the issue is printed as a ratio against its baseline of the same run, marked met or missed.
// Numbers only: nothing here passes or fails on time (an error that stops a measurement exits 1).
//   npm run bench            (BENCH_RUNS=40 timed runs per series)
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DaemonProcess } from './lib/daemon-process.js';
import { describeHost, firstLineOf, type BenchHost } from './lib/host.js';
import { parseBenchOptions, type BenchOptions, type SectionName } from './lib/options.js';
import { CHART_SCRIPT, TRIVIAL } from './lib/programs.js';
import { TargetBoard } from './lib/report.js';
import { defaultJupyterDir, ensureJupyterEnv, JupyterKernel } from './peers/jupyter.js';
import { chartSection } from './sections/chart.js';
import { Memo, type BenchContext } from './sections/context.js';
import { objectsSection } from './sections/objects.js';
import { memoryAtEndSection, memoryAtStartSection } from './sections/memory.js';
import { sessionSection } from './sections/session.js';
import { throughputSection } from './sections/throughput.js';
import { toolsSection } from './sections/tools.js';
import { trivialSection } from './sections/trivial.js';

const SECTIONS: ReadonlyArray<readonly [SectionName, (context: BenchContext) => Promise<void>]> = [
  ['memory', memoryAtStartSection],
  ['throughput', throughputSection],
  ['trivial', trivialSection],
  ['chart', chartSection],
  ['objects', objectsSection],
  ['session', sessionSection],
  ['tools', toolsSection],
  ['memory', memoryAtEndSection],
];

// The machine and the settings, first, so that numbers are never read without them.
function printHeader(host: BenchHost, options: BenchOptions): void {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const commit = firstLineOf('git', ['-C', host.repoDir, 'describe', '--always', '--dirty']);
  const settings = Object.keys(process.env).filter((name) => name.startsWith('RUNBOX_') && name !== 'RUNBOX_TOKEN');
  console.log(`runbox bench (issue 12 targets), ${new Date().toISOString()}`);
  console.log(`  machine: ${os.availableParallelism()} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`);
  console.log(`  node ${process.version}; ${firstLineOf(host.pythonPath, ['--version']) ?? 'no python'} (${host.pythonEnv}); ${host.bwrapPath ? firstLineOf(host.bwrapPath, ['--version']) : 'no bubblewrap'}`);
  console.log(`  runbox ${commit ?? '(unknown commit)'}, the daemon in a child process with its defaults${settings.length ? `, and ${settings.map((name) => `${name}=${process.env[name]}`).join(' ')}` : ''}`);
  console.log(`  BENCH_RUNS=${options.runs}, sections: ${[...options.sections].join(', ')} (medians and p95; these machines are shared and noisy)\n`);
}

// The warm Jupyter kernel, or why there is none. Warmed with the trivial code and the chart, as a kernel that has
// served a conversation would be.
async function startJupyter(host: BenchHost, options: BenchOptions): Promise<{ kernel: JupyterKernel | null; missing: string | null }> {
  if (!options.jupyter) return { kernel: null, missing: 'left out (BENCH_JUPYTER=0)' };
  if (!options.sections.has('trivial') && !options.sections.has('chart')) return { kernel: null, missing: 'not needed by these sections' };
  const envDir = defaultJupyterDir();
  try {
    const failure = await ensureJupyterEnv(
      { envDir, requirementsFile: path.join(host.repoDir, 'runtimes', 'python', 'requirements.txt'), runtimePythonEnv: host.pythonEnv },
      (line) => console.log(`[bench] ${line}`),
    );
    if (failure) {
      console.log(`[bench] Jupyter peer skipped: ${failure}\n`);
      return { kernel: null, missing: 'skipped: install failed (see above)' };
    }
    const kernel = await JupyterKernel.start(envDir, path.join(host.repoDir, 'bench', 'peers', 'jupyter_driver.py'));
    await kernel.run(TRIVIAL.python);
    await kernel.run(CHART_SCRIPT);
    const { info } = kernel;
    console.log(`[bench] Jupyter peer: ipykernel ${info.ipykernel}, jupyter_client ${info.jupyter_client}, Python ${info.python}, kernel pid ${info.kernelPid} (${envDir})\n`);
    return { kernel, missing: null };
  } catch (error) {
    console.log(`[bench] Jupyter peer skipped: ${(error as Error).message}\n`);
    return { kernel: null, missing: 'skipped: the kernel did not start (see above)' };
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.env);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    return 2;
  }
  const host = describeHost();
  printHeader(host, options);
  const started = Date.now();
  const daemon = await DaemonProcess.start({ repoDir: host.repoDir, nodePath: host.nodePath, pythonEnv: host.pythonEnv });
  const scratchDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-'));
  const jupyter = await startJupyter(host, options);
  const targets = new TargetBoard();
  const context: BenchContext = { host, daemon, runs: options.runs, targets, jupyter: jupyter.kernel, jupyterMissing: jupyter.missing, scratchDir, memo: new Memo(), figures: new Map() };
  let closing: Promise<void> | undefined;
  const cleanUp = () =>
    (closing ??= (async () => {
      await jupyter.kernel?.close();
      await daemon.close();
      await fs.rm(scratchDir, { recursive: true, force: true });
    })());
  // Interrupted (Ctrl-C, or a reader such as `| head` that went away): the kernel, the daemon and the
  // directories still go, rather than being left behind in /tmp.
  const stop = (code: number) => void cleanUp().finally(() => process.exit(code));
  process.once('SIGINT', () => stop(130));
  process.once('SIGTERM', () => stop(143));
  process.stdout.on('error', () => stop(1));
  let failed = 0;
  try {
    for (const [name, section] of SECTIONS) {
      if (!options.sections.has(name)) continue;
      try {
        await section(context);
      } catch (error) {
        // One section's failure (an execution that did not end ok) leaves the others' numbers standing.
        failed += 1;
        console.log(`  section ${name} stopped: ${(error as Error).stack ?? error}`);
      }
      console.log('');
    }
    targets.print();
    console.log(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s${failed ? `; ${failed} section(s) stopped by an error` : ''}`);
  } finally {
    await cleanUp();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
