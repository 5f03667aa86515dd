// install_package / installPackage end to end: real sandboxes asking a real daemon, which installs from a package
// index and an npm registry served by this test on loopback. Packages are importable at once, persist in their
// session (and only there), cannot be written by the code, and every refusal raises in the code with its reason.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startPackageIndex, type PackageIndex } from '../helpers/package-index.js';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let index: PackageIndex;
let d: TestDaemon;
before(async () => {
  index = await startPackageIndex();
  // No warm pool (these tests are not about it): each execution starts its own sandbox, none is started for nothing.
  d = await startDaemon({ pythonIndexUrl: index.pypiUrl, npmRegistryUrl: index.npmUrl, packageDeny: ['runbox-dep-user'], installTimeoutMs: 60_000, warmSandboxes: 0 });
});
after(async () => {
  await d.close();
  await index.close();
});

const run = async (body: object) => {
  const answer = await postExecution(d.url, { timeoutMs: 120_000, ...body });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
};

async function newSession(): Promise<string> {
  const response = await fetch(`${d.url}/v1/sessions`, { method: 'POST' });
  return ((await response.json()) as { id: string }).id;
}

describe('Python: install_package', () => {
  test('installs, imports on the next line, awaitable too; the shared interpreter is untouched', { timeout: 120_000 }, async () => {
    const body = await run({
      runtime: 'python',
      code: [
        'info = install_package("runbox-demo==1.0.0")',
        'import runbox_demo',
        'again = await install_package("runbox-demo==2.0.0")',
        'set_result({"greet": runbox_demo.greet("py"), "installed": info["installed"], "again": again["installed"], "where": runbox_demo.__file__})',
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result.greet, 'hello py from runbox-demo 1.0.0');
    assert.deepEqual(body.result.installed, [{ name: 'runbox-demo', version: '1.0.0' }]);
    assert.deepEqual(body.result.again, [{ name: 'runbox-demo', version: '2.0.0' }]);
    assert.match(body.result.where, /^\/runbox\/packages\/python\//);
    const venv = await fs.readdir(`${d.config.pythonEnv}/lib`, { recursive: true });
    assert.ok(!venv.some((entry) => String(entry).includes('runbox_demo')), 'nothing went into the runtime environment');
    assert.ok(index.requests.some((request) => request.includes('runbox-demo')), 'the loopback index was asked');
  });

  test('without a session the packages belong to that execution only; the code cannot write to them', { timeout: 120_000 }, async () => {
    const first = await run({ runtime: 'python', code: 'install_package("runbox-demo")\nimport runbox_demo, os\ntry:\n    open(os.path.dirname(runbox_demo.__file__) + "/evil.py", "w")\n    outcome = "written"\nexcept OSError as e:\n    outcome = e.strerror\nset_result(outcome)' });
    assert.equal(first.result, 'Read-only file system', JSON.stringify(first));
    const second = await run({ runtime: 'python', code: 'import runbox_demo' });
    assert.equal(second.status, 'error');
    assert.equal(second.error.type, 'ModuleNotFoundError');
  });

  test('refusals and failures raise InstallError with the reason, in the code, quickly', { timeout: 120_000 }, async () => {
    const body = await run({
      runtime: 'python',
      code: [
        'out = {}',
        'for spec in ["runbox-dep-user", "runbox-sdist-only", "no-such-package-xyz", "runbox-demo==9.9", "-r /etc/passwd", "x; os_name==\'nt\'"]:',
        '    try:',
        '        install_package(spec)',
        '        out[spec] = "installed"',
        '    except InstallError as e:',
        '        out[spec] = [e.code, str(e)]',
        'set_result(out)',
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    const out = body.result;
    assert.equal(out['runbox-dep-user'][0], 'package_not_allowed');
    assert.match(out['runbox-dep-user'][1], /deny list/);
    assert.equal(out['runbox-sdist-only'][0], 'install_failed');
    assert.match(out['runbox-sdist-only'][1], /wheel|binary|source/i);
    assert.equal(out['no-such-package-xyz'][0], 'install_failed');
    assert.match(out['no-such-package-xyz'][1], /not found|no.*version|No solution/i);
    assert.equal(out['runbox-demo==9.9'][0], 'install_failed');
    assert.equal(out['-r /etc/passwd'][0], 'invalid_package');
    assert.equal(out["x; os_name=='nt'"][0], 'invalid_package');
    const uncaught = await run({ runtime: 'python', code: 'install_package("no-such-package-xyz")' });
    assert.equal(uncaught.status, 'error');
    assert.equal(uncaught.error.type, 'InstallError');
  });
});

describe('Node: installPackage', () => {
  test('without await, require works on the next line; await import too; scripts never run', { timeout: 120_000 }, async () => {
    const body = await run({
      runtime: 'node',
      code: [
        "const info = installPackage('runbox-demo-js@1.0.0');",
        "const demo = require('runbox-demo-js');",
        "const esm = await import('runbox-demo-js');",
        "const answer = await info;",
        "installPackage('runbox-scripted');",
        "return { greet: demo.greet('js'), esm: esm.default.VERSION, installed: answer.installed, scripted: require('runbox-scripted').scripted };",
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result, { greet: 'hello js from runbox-demo-js 1.0.0', esm: '1.0.0', installed: [{ name: 'runbox-demo-js', version: '1.0.0' }], scripted: true });
    await assert.rejects(fs.access(index.postinstallMarker), 'no install script ran');
  });

  test('a failure throws InstallError synchronously, with the installer\'s message', { timeout: 120_000 }, async () => {
    // One execution for both (each call is its own install).
    const body = await run({
      runtime: 'node',
      code: [
        "let failed = 'installed';",
        "try { installPackage('no-such-package-xyz'); } catch (e) { failed = { name: e.name, code: e.code, message: e.message, isInstallError: e instanceof InstallError }; }",
        "let invalid = 'installed';",
        "try { installPackage('git+https://evil/x'); } catch (e) { invalid = e.code; }",
        'return { failed, invalid };',
      ].join('\n'),
    });
    assert.equal(body.result.failed.name, 'InstallError');
    assert.equal(body.result.failed.code, 'install_failed');
    assert.equal(body.result.failed.isInstallError, true);
    assert.match(body.result.failed.message, /404|not found/i);
    assert.equal(body.result.invalid, 'invalid_package');
  });
});

describe('sessions keep what was installed', () => {
  test('the next execution of the session imports it without installing; another session does not see it', { timeout: 120_000 }, async () => {
    const [mine, other] = [await newSession(), await newSession()];
    try {
      const installed = await run({ runtime: 'python', sessionId: mine, code: 'install_package("runbox-demo==1.0.0")' });
      assert.equal(installed.status, 'ok', JSON.stringify(installed));
      const node = await run({ runtime: 'node', sessionId: mine, code: "installPackage('runbox-demo-js@1.0.0')" });
      assert.equal(node.status, 'ok', JSON.stringify(node));
      const later = await run({ runtime: 'python', sessionId: mine, code: 'import runbox_demo\nset_result(runbox_demo.VERSION)' });
      assert.equal(later.result, '1.0.0');
      const laterNode = await run({ runtime: 'node', sessionId: mine, code: "return require('runbox-demo-js').VERSION" });
      assert.equal(laterNode.result, '1.0.0');
      const elsewhere = await run({ runtime: 'python', sessionId: other, code: 'import runbox_demo' });
      assert.equal(elsewhere.error?.type, 'ModuleNotFoundError');
    } finally {
      for (const id of [mine, other]) await fetch(`${d.url}/v1/sessions/${id}`, { method: 'DELETE' });
    }
  });
});

describe('install scripts an operator opted in to (packageScripts)', () => {
  test('they run sandboxed and offline: what they build is in the package, nothing reaches the host', { timeout: 120_000 }, async () => {
    const scripted = await startDaemon({ pythonIndexUrl: index.pypiUrl, npmRegistryUrl: index.npmUrl, packageScripts: true, warmSandboxes: 0 });
    try {
      const body = (await postExecution(scripted.url, { runtime: 'node', timeoutMs: 120_000, code: "installPackage('runbox-builds'); return require('runbox-builds').built" })).body;
      assert.equal(body.status, 'ok', JSON.stringify(body));
      assert.equal(body.result, 'built by uid 1000', 'the script ran as the sandbox user inside a sandbox');
      await assert.rejects(fs.access(index.postinstallMarker), 'the script wrote its own /tmp, not the host\'s');
    } finally {
      await scripted.close();
    }
    const off = (await postExecution(d.url, { runtime: 'node', timeoutMs: 120_000, code: "installPackage('runbox-builds'); try { require('runbox-builds'); return 'built'; } catch (e) { return e.code; }" })).body;
    assert.equal(off.result, 'ENOENT', 'by default the script never ran, so built.txt does not exist');
  });
});

describe('dependencies from anywhere but the configured index or registry', () => {
  test('Node: a registry package depending on a tarball URL and a git URL of another host raises InstallError naming them; that host gets no request', { timeout: 120_000 }, async () => {
    const body = await run({
      runtime: 'node',
      code: "try { installPackage('runbox-url-deps'); return 'installed'; } catch (e) { return { name: e.name, code: e.code, message: e.message }; }",
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result.name, 'InstallError');
    assert.equal(body.result.code, 'package_not_allowed');
    assert.match(body.result.message, /runbox-url-deps@1\.0\.0 depends on runbox-tarball-dep from a tarball URL/);
    assert.match(body.result.message, /runbox-git-dep from a git URL, "git\+http:\/\/127\.0\.0\.1:\d+\/runbox-git-dep\.git"/);
    assert.deepEqual(index.foreignRequests, [], 'nothing was fetched from the other host');
  });

  test('Python: a wheel depending on a URL of another host raises InstallError naming it; that host gets no request', { timeout: 120_000 }, async () => {
    const body = await run({
      runtime: 'python',
      code: 'try:\n    install_package("runbox-url-dep")\n    set_result("installed")\nexcept InstallError as e:\n    set_result([e.code, str(e)])',
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result[0], 'package_not_allowed');
    assert.ok(body.result[1].includes(`runbox-demo @ ${index.foreignUrl}/files/runbox_demo-1.0.0-py3-none-any.whl`), body.result[1]);
    assert.deepEqual(index.foreignRequests, []);
  });
});
