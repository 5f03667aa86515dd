// Opt-in (RUNBOX_TEST_REAL_REGISTRIES=1): a daemon with its default package index and npm registry (pypi.org,
// registry.npmjs.org) installs a small real package in each runtime, and the code imports it. Every other test
// serves its packages on loopback; this one checks that the real services, as configured by default, still work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postExecution, startDaemon } from '../helpers/daemon.js';

const skip = process.env.RUNBOX_TEST_REAL_REGISTRIES === '1' ? false : 'needs the internet (pypi.org, registry.npmjs.org): set RUNBOX_TEST_REAL_REGISTRIES=1 to run it';

// Runs code in a new daemon with the default index and registry, and returns the execution's result body.
async function runWithDefaultRegistries(runtime: 'python' | 'node', code: string): Promise<any> {
  const d = await startDaemon({ installTimeoutMs: 120_000 });
  try {
    assert.equal(d.config.pythonIndexUrl, 'https://pypi.org/simple');
    assert.equal(d.config.npmRegistryUrl, 'https://registry.npmjs.org/');
    const answer = await postExecution(d.url, { runtime, code, timeoutMs: 180_000 });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  } finally {
    await d.close();
  }
}

test('Python: install_package("six==1.16.0") from pypi.org, then import six', { skip, timeout: 180_000 }, async () => {
  const body = await runWithDefaultRegistries(
    'python',
    'info = install_package("six==1.16.0")\nimport six\nset_result({"installed": info["installed"], "version": six.__version__, "where": six.__file__})',
  );
  assert.equal(body.status, 'ok', JSON.stringify(body));
  assert.deepEqual(body.result.installed, [{ name: 'six', version: '1.16.0' }]);
  assert.equal(body.result.version, '1.16.0');
  assert.match(body.result.where, /^\/runbox\/packages\/python\//);
});

test("Node: installPackage('is-number@7.0.0') from registry.npmjs.org, then require it", { skip, timeout: 180_000 }, async () => {
  const body = await runWithDefaultRegistries(
    'node',
    "const info = await installPackage('is-number@7.0.0');\nconst isNumber = require('is-number');\nreturn { installed: info.installed, checks: [isNumber(5), isNumber('x')], where: require.resolve('is-number') };",
  );
  assert.equal(body.status, 'ok', JSON.stringify(body));
  assert.deepEqual(body.result.installed, [{ name: 'is-number', version: '7.0.0' }]);
  assert.deepEqual(body.result.checks, [true, false]);
  assert.match(body.result.where, /^\/node_modules\/is-number\//);
});
