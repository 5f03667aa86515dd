// The warm pool's options: maxWarmSandboxes follows warmSandboxes when left out and may not be below it; the
// descriptor budget counts the pool at its largest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../daemon/config.js';
import { descriptorsNeeded } from '../../daemon/descriptors.js';

test('maxWarmSandboxes is 4, or warmSandboxes when that is higher; warmShrinkAfterMs is 5 s', () => {
  const defaults = loadConfig({}, []);
  assert.deepEqual([defaults.warmSandboxes, defaults.maxWarmSandboxes, defaults.warmShrinkAfterMs], [1, 4, 5000]);
  assert.equal(loadConfig({ RUNBOX_WARM_SANDBOXES: '6' }, []).maxWarmSandboxes, 6);
  const set = loadConfig({ RUNBOX_MAX_WARM_SANDBOXES: '2' }, ['--warm-shrink-after-ms', '5000']);
  assert.deepEqual([set.maxWarmSandboxes, set.warmShrinkAfterMs], [2, 5000]);
  assert.throws(() => loadConfig({}, ['--warm-sandboxes', '3', '--max-warm-sandboxes', '2']), /maxWarmSandboxes \(2\) is below warmSandboxes \(3\)/);
  assert.throws(() => loadConfig({ RUNBOX_WARM_SHRINK_AFTER_MS: '10' }, []), /RUNBOX_WARM_SHRINK_AFTER_MS \(warmShrinkAfterMs\): expected an integer from 100/);
});

test('the descriptor budget counts every sandbox the grown pool may hold', () => {
  const fixed = { maxConnections: 1024, maxConcurrent: 4, warmSandboxes: 1 };
  // 4 running, 1 warm per runtime, 4 session sandboxes; grown to 4 per runtime: 16; capped by maxConcurrent.
  assert.equal(descriptorsNeeded(fixed), 1024 + 10 * 32 + 256);
  assert.equal(descriptorsNeeded({ ...fixed, maxWarmSandboxes: 4 }), 1024 + 16 * 32 + 256);
  assert.equal(descriptorsNeeded({ ...fixed, maxWarmSandboxes: 9 }), 1024 + 16 * 32 + 256);
  assert.equal(descriptorsNeeded({ ...fixed, warmSandboxes: 0, maxWarmSandboxes: 4 }), 1024 + 4 * 32 + 256, 'no pool at all');
});
