// The admission queue on its own: slots, FIFO order, refusal past maxQueued, withdrawal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotQueue } from '../../daemon/executions/queue.js';

const settled = async <T>(promise: Promise<T>): Promise<T | 'pending'> => Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

test('slots are granted at once up to maxConcurrent, then in FIFO order as they free', async () => {
  const queue = new SlotQueue(2, 3);
  const tickets = Array.from({ length: 5 }, () => queue.tryEnter());
  assert.ok(tickets.every((t) => t !== null));
  assert.equal(queue.tryEnter(), null, 'the sixth is refused: 2 hold slots and 3 wait');
  assert.deepEqual([queue.activeCount, queue.waitingCount], [2, 3]);
  assert.deepEqual(await Promise.all(tickets.map((t) => settled(t!.granted))), [true, true, 'pending', 'pending', 'pending']);
  const order: number[] = [];
  tickets.slice(2).forEach((t, i) => void t!.granted.then(() => order.push(i + 2)));
  tickets[1]!.release();
  tickets[1]!.release(); // twice is harmless
  tickets[0]!.release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [2, 3]);
  assert.deepEqual([queue.activeCount, queue.waitingCount], [2, 1]);
});

test('a withdrawn ticket leaves the queue, resolves false, and frees its place', async () => {
  const queue = new SlotQueue(1, 1);
  const running = queue.tryEnter()!;
  const waiting = queue.tryEnter()!;
  assert.equal(queue.tryEnter(), null);
  waiting.withdraw();
  assert.equal(await waiting.granted, false);
  const next = queue.tryEnter();
  assert.ok(next, 'its place is free again');
  next.release(); // release before the grant withdraws too
  assert.equal(await next.granted, false);
  running.release();
  assert.deepEqual([queue.activeCount, queue.waitingCount], [0, 0]);
});

test('maxQueued 0 refuses whatever cannot run at once; bad sizes fail at the boundary', () => {
  const queue = new SlotQueue(1, 0);
  assert.ok(queue.tryEnter());
  assert.equal(queue.tryEnter(), null);
  assert.throws(() => new SlotQueue(0, 1), /maxConcurrent: expected an integer ≥ 1, received 0/);
  assert.throws(() => new SlotQueue(1, -1), /maxQueued: expected an integer ≥ 0, received -1/);
});

test('a gated ticket waits without holding a slot, lets eligible ones pass, and gets the next slot once its gate opens', async () => {
  const queue = new SlotQueue(1, 5);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated = queue.tryEnter(gate)!;
  assert.deepEqual([queue.activeCount, queue.waitingCount], [0, 1], 'a free slot is not taken while the gate is shut');
  const plain = queue.tryEnter()!;
  assert.equal(await settled(plain.granted), true, 'an eligible ticket is not held up behind a gated one');
  assert.equal(await settled(gated.granted), 'pending');
  open();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await settled(gated.granted), 'pending', 'the gate is open but the only slot is taken');
  plain.release();
  assert.equal(await settled(gated.granted), true);
  gated.release();
  assert.deepEqual([queue.activeCount, queue.waitingCount], [0, 0]);
  const withdrawn = queue.tryEnter(new Promise<void>(() => undefined))!;
  withdrawn.withdraw();
  assert.equal(await withdrawn.granted, false);
  assert.equal(queue.waitingCount, 0);
});
