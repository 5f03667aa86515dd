// The pure parts of the warm pool's sizing: the target after misses and quiet periods, the refill rule, and idle
// CPU from /proc/stat's counters (parsed from text, and measured over windows of a given stat source).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuIdleMeter, parseCpuList, parseProcStat } from '../../daemon/executions/cpu-idle.js';
import { afterMiss, afterQuiet, IDLE_CORES_FOR_A_START, initialDemand, mayStartRefill, nextShrinkAt } from '../../daemon/executions/warm-demand.js';

const limits = { min: 1, max: 3, shrinkAfterMs: 1000 };

test('each miss raises the target by one up to max; a quiet period takes it back to min', () => {
  let demand = initialDemand(limits);
  assert.equal(demand.target, 1);
  assert.equal(nextShrinkAt(demand, limits), null, 'nothing to shrink at the minimum');
  for (const [at, target] of [[0, 2], [10, 3], [20, 3], [30, 3]] as const) {
    demand = afterMiss(demand, limits, at);
    assert.equal(demand.target, target);
  }
  assert.equal(nextShrinkAt(demand, limits), 1030, 'a whole period after the last miss');
  assert.equal(afterQuiet(demand, limits, 1029).target, 3, 'not before');
  // A miss in between starts the quiet period again.
  demand = afterMiss(demand, limits, 1000);
  assert.deepEqual([demand.target, nextShrinkAt(demand, limits)], [3, 2000]);
  assert.equal(afterQuiet(demand, limits, 1999).target, 3);
  demand = afterQuiet(demand, limits, 2000);
  assert.deepEqual([demand.target, nextShrinkAt(demand, limits)], [1, null]);
  assert.equal(afterMiss(demand, limits, 3000).target, 2, 'and grows again from there');
});

test('a pool of 0 never grows (the warm pool is off)', () => {
  const off = { min: 0, max: 0, shrinkAfterMs: 1000 };
  assert.equal(afterMiss(initialDemand(off), off, 0).target, 0);
});

test('a refill starts at once while a core is left nobody can be using; past that only on measured idle cores', () => {
  // 2 cores: with nothing running, two starts at once, never a third.
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 0, starting: 1, idleCores: null }), true);
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 0, starting: 2, idleCores: 2 }), false);
  // One execution running: one start; a second only if the cores were found idle enough since the last start.
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 1, starting: 0, idleCores: null }), true);
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 1, starting: 1, idleCores: null }), false);
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 1, starting: 1, idleCores: IDLE_CORES_FOR_A_START - 0.1 }), false);
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 1, starting: 1, idleCores: IDLE_CORES_FOR_A_START }), true);
  // Executions on every core, computing: none; waiting for tools (the cores idle): one.
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 2, starting: 0, idleCores: 0.1 }), false);
  assert.equal(mayStartRefill({ cores: 2, runningExecutions: 4, starting: 0, idleCores: 1.9 }), true);
});

const STAT = (ticks: Array<[busy: number, idle: number]>) =>
  `cpu  1 2 3 4 5 6 7 8 9 10\n${ticks.map(([busy, idle], cpu) => `cpu${cpu} ${busy} 0 0 ${idle} 0 0 0 0 0 0`).join('\n')}\nintr 12 0 0\nctxt 3\n`;

test('parseCpuList and parseProcStat: the allowed CPUs, their busy and idle ticks', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('1'), [1]);
  const text = 'cpu  9 9 9 9 9 9 9 9 9 9\ncpu0 10 1 5 100 4 1 2 3 7 0\ncpu1 20 0 0 50 0 0 0 0 0 0\nintr 5\n';
  // user+nice+system+irq+softirq+steal busy; idle+iowait idle; guest (already in user) not added again.
  assert.deepEqual(parseProcStat(text, null), { busy: 22 + 20, total: 22 + 104 + 20 + 50, cpus: 2 });
  assert.deepEqual(parseProcStat(text, [1]), { busy: 20, total: 70, cpus: 1 });
});

test('CpuIdleMeter: idle cores of the last window, only from recent samples', () => {
  let stat = STAT([[0, 0], [0, 0]]);
  const meter = new CpuIdleMeter(50, { readStat: () => stat, readAllowedCpus: () => '0-1' });
  assert.equal(meter.idle(0), null, 'one sample is no window');
  stat = STAT([[10, 0], [0, 10]]);
  assert.deepEqual(meter.idle(60), { idleCores: 1, since: 0 }, 'one core busy, one idle');
  stat = STAT([[20, 0], [5, 15]]);
  assert.deepEqual(meter.idle(80), { idleCores: 1, since: 0 }, 'within a window: the last measurement, no new read');
  assert.deepEqual(meter.idle(120), { idleCores: 0.5, since: 60 });
  stat = STAT([[30, 0], [10, 20]]);
  assert.equal(meter.idle(10_000), null, 'a sample from long ago says nothing about now');
  const unreadable = new CpuIdleMeter(50, { readStat: () => { throw new Error('no /proc'); }, readAllowedCpus: () => null });
  assert.equal(unreadable.idle(0), null);
  assert.equal(unreadable.idle(100), null);
});
