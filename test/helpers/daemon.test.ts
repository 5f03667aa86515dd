// The test daemon's configuration is the real one's: overrides are read through loadConfig, so what the daemon
// would refuse (a bad value, a broken cross-check, an unknown option) fails the test that asks for it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../daemon/config.js';
import { testConfig } from './daemon.js';

test('overrides come back as given, lists and booleans included, over the real defaults', () => {
  const config = testConfig({ maxConcurrent: 3, pythonPreload: [], packageDeny: ['a', '@s/b'], unsafeNoSandbox: true, token: 't' }, { port: 0 });
  assert.deepEqual([config.maxConcurrent, config.pythonPreload, config.packageDeny, config.unsafeNoSandbox, config.token, config.port], [3, [], ['a', '@s/b'], true, 't', 0]);
  assert.equal(config.maxQueued, 100, 'the rest are the defaults');
  assert.ok(Object.isFrozen(config));
  assert.equal(testConfig({ port: 1234 }, { port: 0 }).port, 1234, 'an override wins over the helper\'s defaults');
});

test('what the real daemon refuses, the test daemon refuses, with every problem named', () => {
  const refused = (overrides: Parameters<typeof testConfig>[0]): ConfigError => {
    try {
      testConfig(overrides);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error;
    }
    assert.fail(`accepted ${JSON.stringify(overrides)}`);
  };
  assert.deepEqual(refused({ defaultTimeoutMs: 5000, maxTimeoutMs: 1000 }).problems, ['defaultTimeoutMs (5000) exceeds maxTimeoutMs (1000)']);
  assert.match(refused({ maxToolCalls: 100, maxBridgeMessages: 120 }).problems[0], /^maxBridgeMessages \(120\) must exceed maxToolCalls/);
  assert.match(refused({ host: '0.0.0.0' }).problems[0], /not a loopback address/);
  assert.match(refused({ maxOutputBytes: 1.5 }).problems[0], /^RUNBOX_MAX_OUTPUT_BYTES \(maxOutputBytes\): expected an integer/);
  assert.match(refused({ memoryBytes: 1024 }).problems[0], /memoryBytes/);
  assert.match(refused({ pythonPreload: ['not a module'] }).problems[0], /Python module names/);
  assert.equal(refused({ sandboxUid: 0, sandboxGid: -1 }).problems.length, 2);
});

test('an option the daemon does not have, or a value it would read differently, is an error naming it', () => {
  assert.throws(() => testConfig({ bogusLimit: 1 } as never), /^Error: test daemon override bogusLimit: no such configuration option/);
  assert.throws(() => testConfig({ packageAllow: ['a,b'] }), /test daemon override packageAllow: \["a,b"\] reads back as \["a","b"\]/);
  assert.throws(() => testConfig({ workDir: '/tmp/x/../y' }), /workDir: "\/tmp\/x\/\.\.\/y" reads back as "\/tmp\/y"/);
});
