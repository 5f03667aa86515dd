// An execution's bridge budgets (bytes, messages, refused connections: each says once which budget it passed,
// and at which value) and its share of the daemon's main thread (a token bucket on a clock the test moves).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BRIDGE_CPU_BURST_MS, BRIDGE_CPU_SHARE, BridgeBudget, CpuShare } from '../../daemon/bridge/budget.js';

test('BridgeBudget: bytes, messages and refusals each cut off once, naming the budget and its value', () => {
  const budget = new BridgeBudget({ maxInboundBytes: 100, maxMessages: 3, maxRefusedConnections: 2 });
  assert.equal(budget.chargeMessage(60), null);
  assert.match(budget.chargeMessage(60) ?? '', /more than maxBridgeInboundBytes \(100 bytes\)/);
  assert.equal(budget.chargeMessage(1), null, 'said once');
  const messages = new BridgeBudget({ maxInboundBytes: 1e9, maxMessages: 3, maxRefusedConnections: 2 });
  for (let i = 0; i < 3; i++) assert.equal(messages.chargeMessage(1), null);
  assert.match(messages.chargeMessage(1) ?? '', /maxBridgeMessages \(3 messages\)/);
  const refusals = new BridgeBudget({ maxInboundBytes: 1e9, maxMessages: 3, maxRefusedConnections: 2 });
  assert.equal(refusals.chargeRefusal(), null);
  assert.equal(refusals.chargeRefusal(), null);
  assert.match(refusals.chargeRefusal() ?? '', /maxBridgeRefusedConnections \(2\)/);
});

test('CpuShare: a burst is free, more must rest until the share allows again', () => {
  let now = 0;
  const share = new CpuShare(0.1, 250, () => now);
  assert.equal(share.charge(200), 0);
  assert.equal(share.charge(100), 500); // 50 ms over the burst, at 10 % of the thread: 500 ms of rest
  now += 500;
  assert.equal(share.charge(0), 0);
  now += 10_000;
  assert.equal(share.charge(250), 0, 'an idle bridge has its whole burst back');
});

test('BridgeBudget: a budget is reached, not passed, by its exact value; the first one passed is the only one said', () => {
  const bytes = new BridgeBudget({ maxInboundBytes: 100, maxMessages: 1000, maxRefusedConnections: 0 });
  assert.equal(bytes.chargeMessage(100), null, 'exactly maxInboundBytes is within it');
  assert.match(bytes.chargeMessage(1) ?? '', /^the code sent its bridge more than maxBridgeInboundBytes \(100 bytes\); the execution was cut off$/);
  assert.equal(bytes.chargeRefusal(), null, 'the execution is being cut off already: a later refusal says nothing');
  const zero = new BridgeBudget({ maxInboundBytes: 100, maxMessages: 1000, maxRefusedConnections: 0 });
  assert.match(zero.chargeRefusal() ?? '', /maxBridgeRefusedConnections \(0\)/, 'no refusal at all allowed');
  // Bytes are checked before messages: a message past both names the bytes.
  const both = new BridgeBudget({ maxInboundBytes: 10, maxMessages: 1, maxRefusedConnections: 5 });
  assert.equal(both.chargeMessage(5), null);
  assert.match(both.chargeMessage(50) ?? '', /maxBridgeInboundBytes/);
  // Huge charges add up without losing count.
  const large = new BridgeBudget({ maxInboundBytes: Number.MAX_SAFE_INTEGER, maxMessages: Number.MAX_SAFE_INTEGER, maxRefusedConnections: 5 });
  for (let i = 0; i < 4; i++) assert.equal(large.chargeMessage(2 ** 50), null);
  assert.match(large.chargeMessage(Number.MAX_SAFE_INTEGER) ?? '', /maxBridgeInboundBytes/);
});

test('CpuShare: debt drains at the share of wall time, rest is what the share needs to pay what is over the burst', () => {
  let now = 1000;
  const share = new CpuShare(BRIDGE_CPU_SHARE, BRIDGE_CPU_BURST_MS, () => now);
  assert.equal(share.charge(BRIDGE_CPU_BURST_MS), 0, 'the whole burst at once is free');
  assert.equal(share.charge(1), 1 / BRIDGE_CPU_SHARE, 'a millisecond over the burst: that millisecond at the share');
  now += 10; // 10 ms of wall time pays 1 ms at 10 %
  assert.equal(share.charge(0), 0);
  // A steady flood at exactly the share never rests; one a little above it does, more and more.
  const steady = new CpuShare(0.1, 250, () => now);
  for (let i = 0; i < 1000; i++) {
    now += 100;
    assert.equal(steady.charge(10), 0);
  }
  const greedy = new CpuShare(0.1, 250, () => now);
  const rests: number[] = [];
  for (let i = 0; i < 100; i++) {
    now += 100;
    rests.push(greedy.charge(15));
  }
  assert.equal(rests[0], 0, 'it starts within its burst');
  assert.ok(rests.at(-1)! > 0 && rests.at(-1)! > rests[60], `rest grows while the flood goes on: ${rests.slice(-3).join(', ')}`);
});
