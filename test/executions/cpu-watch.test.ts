// The CPU-time watch: its schedule as a pure function, and the watch itself against the CPU time of real
// processes (a child that spins, one that sleeps), read from /proc the way the daemon reads its cgroup's counter.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { CpuWatch, MAX_CPU_CHECK_MS, MIN_CPU_CHECK_MS, nextCpuCheckDelayMs } from '../../daemon/executions/cpu-watch.js';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

// The CPU time (user and system) a process has used, in ms; null once it is gone.
async function cpuTimeMsOf(pid: number): Promise<number | null> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function startChild(code: string): ChildProcess {
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

// Kills the child and checks it is really gone.
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(await cpuTimeMsOf(child.pid as number), null);
}

test('the next check comes before the remainder can run out, within its bounds', () => {
  // 1000 ms left on 4 cores: 250 ms of wall time at most; capped at MAX_CPU_CHECK_MS.
  assert.equal(nextCpuCheckDelayMs(2000, 1000, 4), MAX_CPU_CHECK_MS);
  assert.equal(nextCpuCheckDelayMs(10_000, 0, 1), MAX_CPU_CHECK_MS);
  assert.equal(nextCpuCheckDelayMs(1000, 800, 2), 100);
  assert.equal(nextCpuCheckDelayMs(1000, 900, 4), 25);
  // Nearly out, or over already: never more often than MIN_CPU_CHECK_MS.
  assert.equal(nextCpuCheckDelayMs(1000, 995, 4), MIN_CPU_CHECK_MS);
  assert.equal(nextCpuCheckDelayMs(1000, 1500, 4), MIN_CPU_CHECK_MS);
});

test('a process that spins is reported once, past its CPU time', async () => {
  const child = startChild('for (;;) {}');
  try {
    const over: number[] = [];
    let reported!: () => void;
    const done = new Promise<void>((resolve) => (reported = resolve));
    const watch = new CpuWatch({
      cpuTimeMs: 300,
      cores: 1,
      readCpuTimeMs: () => cpuTimeMsOf(child.pid as number),
      onOver: (usedMs) => {
        over.push(usedMs);
        reported();
      },
    });
    watch.start();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('not reported within 20 s')), 20_000))]);
    await new Promise((resolve) => setTimeout(resolve, 3 * MAX_CPU_CHECK_MS));
    assert.equal(over.length, 1);
    assert.ok(over[0] > 300, `reported at ${over[0]} ms`);
    watch.stop();
  } finally {
    await end(child);
  }
});

test('a stopped watch reports nothing, and one whose counter is gone ends', async () => {
  const spinning = startChild('for (;;) {}');
  // sleep(1), not Node: Node's own start-up can take more than the 100 ms limit of CPU on a loaded machine (a CI
  // run saw it), which would make the idle child look over its limit.
  const sleeping = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const reports: string[] = [];
    const stopped = new CpuWatch({ cpuTimeMs: 100, cores: 1, readCpuTimeMs: () => cpuTimeMsOf(spinning.pid as number), onOver: () => reports.push('stopped one') });
    stopped.start();
    stopped.stop();
    let reads = 0;
    const gone = new CpuWatch({
      cpuTimeMs: 100,
      cores: 1,
      readCpuTimeMs: async () => {
        reads += 1;
        return cpuTimeMsOf(sleeping.pid as number);
      },
      onOver: () => reports.push('gone one'),
    });
    gone.start();
    await new Promise((resolve) => setTimeout(resolve, 2 * MAX_CPU_CHECK_MS));
    assert.ok(reads >= 1);
    await end(sleeping);
    const readsAtEnd = reads;
    await new Promise((resolve) => setTimeout(resolve, 3 * MAX_CPU_CHECK_MS));
    // One last read found no counter, then the watch ended.
    assert.ok(reads <= readsAtEnd + 1, `${reads - readsAtEnd} reads after the process was gone`);
    assert.ok((await cpuTimeMsOf(spinning.pid as number))! > 100, 'the spinning child used its CPU time');
    assert.deepEqual(reports, []);
  } finally {
    await Promise.all([end(spinning), end(sleeping)]);
  }
});
