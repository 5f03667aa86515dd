import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { CONFIG_OPTIONS, ConfigError, loadConfig } from '../daemon/config.js';

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

test('cross-option rules: what installers run lies outside workDir, which their jails cover', () => {
  assert.throws(() => loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox', RUNBOX_PYTHON_ENV: '/srv/runbox/python' }, []), /pythonEnv \(\/srv\/runbox\/python\) is inside workDir \(\/srv\/runbox\), which installers do not see/);
  assert.throws(() => loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox', RUNBOX_UV: '/srv/runbox/uv' }, []), /uvPath .* is inside workDir/);
  assert.equal(loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox', RUNBOX_PYTHON_ENV: '/srv/runbox-python' }, []).pythonEnv, '/srv/runbox-python', 'a sibling with a common prefix is outside');
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

test('packageCacheDir defaults to <workDir>/package-cache, whichever way workDir was set', () => {
  assert.equal(loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox' }, []).packageCacheDir, '/srv/runbox/package-cache');
  assert.equal(loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox' }, ['--work-dir', '/srv/other']).packageCacheDir, '/srv/other/package-cache');
  assert.equal(loadConfig({}, [], { workDir: '/srv/given' }).packageCacheDir, '/srv/given/package-cache');
  const defaults = loadConfig({}, []);
  assert.equal(defaults.packageCacheDir, `${defaults.workDir}/package-cache`);
  // Set on its own, it does not follow workDir.
  assert.equal(loadConfig({ RUNBOX_WORK_DIR: '/srv/runbox', RUNBOX_PACKAGE_CACHE_DIR: '/var/cache/runbox' }, []).packageCacheDir, '/var/cache/runbox');
  assert.equal(loadConfig({}, [], { workDir: '/srv/given', packageCacheDir: '/var/cache/given' }).packageCacheDir, '/var/cache/given');
});

test('overrides are typed values that win over flags and environment, and still meet the cross-option rules', () => {
  const config = loadConfig({ RUNBOX_PORT: '9100' }, ['--port', '9200'], { port: 0, maxConcurrent: 3 });
  assert.equal(config.port, 0);
  assert.equal(config.maxConcurrent, 3);
  assert.ok(Object.isFrozen(config));
  assert.throws(() => loadConfig({}, [], { defaultTimeoutMs: 5000, maxTimeoutMs: 1000 }), /defaultTimeoutMs \(5000\) exceeds maxTimeoutMs \(1000\)/);
});

test('the WebSocket client limits are options: streamPauseBytes, maxBufferedBytes, pingIntervalMs', () => {
  const defaults = loadConfig({}, []);
  assert.deepEqual([defaults.streamPauseBytes, defaults.maxBufferedBytes, defaults.pingIntervalMs], [1024 * 1024, 64 * 1024 * 1024, 30_000]);
  const set = loadConfig({ RUNBOX_STREAM_PAUSE_BYTES: '4096', RUNBOX_MAX_BUFFERED_BYTES: '8192' }, ['--ping-interval-ms', '500']);
  assert.deepEqual([set.streamPauseBytes, set.maxBufferedBytes, set.pingIntervalMs], [4096, 8192, 500]);
  assert.throws(() => loadConfig({ RUNBOX_PING_INTERVAL_MS: '10' }, []), /RUNBOX_PING_INTERVAL_MS \(pingIntervalMs\): expected an integer from 100/);
  assert.throws(() => loadConfig({ RUNBOX_STREAM_PAUSE_BYTES: '8192', RUNBOX_MAX_BUFFERED_BYTES: '4096' }, []), /streamPauseBytes \(8192\) exceeds maxBufferedBytes \(4096\)/);
});

test('the option table: names, flags and environment variables are unique, and each option says what it is', () => {
  const names = CONFIG_OPTIONS.map((o) => o.name);
  const flags = CONFIG_OPTIONS.flatMap((o) => (o.flag ? [o.flag] : []));
  const envs = CONFIG_OPTIONS.flatMap((o) => (o.env ? [o.env] : []));
  for (const list of [names, flags, envs]) assert.equal(new Set(list).size, list.length);
  for (const option of CONFIG_OPTIONS) {
    assert.ok(option.describe.length > 0, `${option.name} has no description`);
    assert.ok(option.env?.startsWith('RUNBOX_'), `${option.name}'s environment variable`);
  }
  // Every option is in a loaded configuration, and nothing else is.
  assert.deepEqual(Object.keys(loadConfig({}, [])).sort(), [...names].sort());
});

test('docs/configuration.md shows each literal default as the table has it', async () => {
  const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const config = loadConfig({}, []);
  let checked = 0;
  for (const option of CONFIG_OPTIONS) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${option.name}\` |`));
    assert.ok(row, `${option.name} has a row`);
    const cell = row.split(' | ')[3];
    const value = config[option.name];
    const shown = Array.isArray(value) ? value.join(',') : String(value);
    // A default that depends on the host (`<tmpdir>/runbox`, `2 × CPU cores`) is described, not shown.
    if (/^`[^`<\s]+`$/.test(cell)) {
      assert.equal(cell, `\`${shown}\``, `${option.name}: docs say ${cell}, the table ${shown}`);
      checked += 1;
    } else if (/^\((none|empty)/.test(cell)) {
      assert.equal(shown, '', `${option.name}: docs say ${cell}, the table ${shown}`);
      checked += 1;
    }
  }
  assert.ok(checked > CONFIG_OPTIONS.length / 2, `only ${checked} defaults checked`);
});
