import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../daemon/config.js';

test('defaults: loopback port 9000, frozen', () => {
  const config = loadConfig({}, []);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 9000);
  assert.equal(config.unsafeNoSandbox, false);
  assert.ok(Object.isFrozen(config));
});

test('flags win over environment, environment over defaults', () => {
  assert.equal(loadConfig({ RUNBOX_PORT: '9100' }, []).port, 9100);
  assert.equal(loadConfig({ RUNBOX_PORT: '9100' }, ['--port', '9200']).port, 9200);
  assert.equal(loadConfig({ RUNBOX_HOST: '127.0.0.2' }, []).host, '127.0.0.2');
  assert.equal(loadConfig({}, ['--unsafe-no-sandbox']).unsafeNoSandbox, true);
});

test('every problem is reported at once, naming the option and the value', () => {
  assert.throws(
    () => loadConfig({ RUNBOX_PORT: 'ninety', RUNBOX_MAX_OUTPUT_BYTES: '-1' }, ['--log-level', 'loud']),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 3);
      assert.match(error.message, /RUNBOX_PORT \(port\): expected an integer from 0 to 65535, received "ninety"/);
      assert.match(error.message, /--log-level \(logLevel\): expected one of/);
      return true;
    },
  );
});

test('unknown flags are refused', () => {
  assert.throws(() => loadConfig({}, ['--prot', '1']), /Unknown option '--prot'/);
});

test('a non-loopback host needs a token', () => {
  assert.throws(() => loadConfig({ RUNBOX_HOST: '0.0.0.0' }, []), /not a loopback address: set RUNBOX_TOKEN/);
  assert.equal(loadConfig({ RUNBOX_HOST: '0.0.0.0', RUNBOX_TOKEN: 's3cret' }, []).host, '0.0.0.0');
});

test('cross-option rules: default timeout within the maximum', () => {
  assert.throws(() => loadConfig({ RUNBOX_DEFAULT_TIMEOUT_MS: '5000', RUNBOX_MAX_TIMEOUT_MS: '1000' }, []), /defaultTimeoutMs \(5000\) exceeds maxTimeoutMs \(1000\)/);
});

test('cross-option rules of the connection caps and bridge budgets', () => {
  assert.throws(() => loadConfig({ RUNBOX_MAX_CONNECTIONS: '10', RUNBOX_MAX_CONNECTIONS_PER_ADDRESS: '20' }, []), /maxConnectionsPerAddress \(20\) exceeds maxConnections \(10\)/);
  assert.throws(() => loadConfig({ RUNBOX_HEADERS_TIMEOUT_MS: '5000', RUNBOX_REQUEST_TIMEOUT_MS: '1000' }, []), /headersTimeoutMs \(5000\) exceeds requestTimeoutMs \(1000\)/);
  assert.throws(() => loadConfig({ RUNBOX_MAX_BRIDGE_INBOUND_BYTES: '2048' }, []), /maxBridgeInboundBytes \(2048\) is less than maxBridgeMessageBytes \(16777216\)/);
  assert.throws(() => loadConfig({ RUNBOX_MAX_BRIDGE_MESSAGES: '10000' }, []), /maxBridgeMessages \(10000\) must exceed maxToolCalls \(10000\) \+ 32 installs/);
  const defaults = loadConfig({}, []);
  assert.deepEqual(
    [defaults.maxConnections, defaults.maxConnectionsPerAddress, defaults.headersTimeoutMs, defaults.maxBridgeInboundBytes, defaults.maxBridgeMessages, defaults.maxBridgeRefusedConnections],
    [1024, 256, 10_000, 512 * 1024 * 1024, 50_000, 100],
  );
});
