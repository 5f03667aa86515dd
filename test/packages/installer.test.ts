// Real installs with uv, pip and npm against a package index and registry served by this test on loopback:
// what lands in the target directory, what the runtime can import from it, and what happens when an install
// fails, takes too long, grows too large, is cancelled or races another one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { dir as makeTempDir } from 'tmp-promise';
import { PackageCache } from '../../daemon/packages/cache.js';
import { InstallError } from '../../daemon/packages/errors.js';
import { defaultUvPath } from '../../daemon/config.js';
import { installPackages, PackageInstaller, type InstallOptions } from '../../daemon/packages/installer.js';
import { parsePackageSpecs } from '../../daemon/packages/specs.js';
import { treeBytes } from '../../daemon/packages/staging.js';
import { startPackageIndex, type PackageIndex } from '../helpers/package-index.js';

const PYTHON = '/opt/runbox/python/bin/python3';
const UV = defaultUvPath();
const NPM = path.join(path.dirname(process.execPath), 'npm');
const isRoot = process.getuid?.() === 0;
/** As a root daemon runs them: as the sandbox user. */
const RUN_AS = isRoot ? { uid: 65534, gid: 65534 } : undefined;

const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const pythonMissing = executable(PYTHON) ? false : `the runtime Python is not at ${PYTHON} (run scripts/setup.sh)`;
const uvMissing = pythonMissing || (executable(UV) ? false : `uv not found at ${UV} (run scripts/setup.sh)`);
// Importing pip is enough to know it is there (`-m pip --version` would load all of pip: 0.3 s of CPU).
const pipMissing = pythonMissing || ((await execa(PYTHON, ['-c', 'import pip'], { reject: false })).exitCode === 0 ? false : `pip is not installed for ${PYTHON}`);
const npmMissing = executable(NPM) ? false : `npm not found at ${NPM}`;
/** As the daemon runs installers on a host with a sandbox: in bubblewrap's user and pid namespaces. */
const BWRAP = executable('/usr/bin/bwrap') ? '/usr/bin/bwrap' : null;

let index: PackageIndex;
let root: { path: string; cleanup: () => Promise<void> };
let cacheDir: string;
let cache: PackageCache;
let nextDir = 0;

before(async () => {
  index = await startPackageIndex();
  root = await makeTempDir({ prefix: 'runbox-packages-', unsafeCleanup: true });
  // The installers' user must get through to the session and cache directories, as in a real work directory.
  fs.chmodSync(root.path, 0o755);
  cacheDir = path.join(root.path, 'cache');
  cache = new PackageCache(cacheDir, 1024 * 1024 * 1024);
});

after(async () => {
  await index.close();
  await root.cleanup();
  fs.rmSync(index.postinstallMarker, { force: true });
});

// A new session's package directory for one runtime, e.g. <root>/session-3/packages/python (not created).
function newTarget(runtime: 'python' | 'node'): string {
  const target = path.join(root.path, `session-${++nextDir}`, 'packages', runtime);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  return target;
}

function options(runtime: 'python' | 'node', specs: string[], targetDir: string, extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    runtime,
    specs: parsePackageSpecs(runtime, specs),
    targetDir,
    cache,
    pythonBin: PYTHON,
    uvPath: UV,
    npmPath: NPM,
    nodePath: process.execPath,
    indexUrl: index.pypiUrl,
    registryUrl: index.npmUrl,
    timeoutMs: 120_000,
    maxBytes: 10_000_000,
    runAs: RUN_AS,
    bwrapPath: BWRAP,
    ...extra,
  };
}

// Runs Python code with the runtime interpreter and only `sys.path.insert(0, targetDir)`; returns its stdout.
async function python(targetDir: string, code: string): Promise<string> {
  const result = await execa(PYTHON, ['-c', `import sys; sys.path.insert(0, sys.argv[1])\n${code}`, targetDir]);
  return result.stdout.trim();
}

// Asserts an InstallError with this code whose message contains every fragment.
async function assertInstallError(promise: Promise<unknown>, code: InstallError['code'], ...fragments: string[]): Promise<InstallError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}, but the install succeeded`),
    (error: unknown) => (caught = error),
  );
  assert.ok(caught instanceof InstallError, `expected an InstallError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const fragment of fragments) assert.ok(caught.message.includes(fragment), `${JSON.stringify(caught.message)} should include ${JSON.stringify(fragment)}`);
  return caught;
}

// What a target directory is: the tree its link names, and every entry next to it (no staging leftovers).
function snapshot(targetDir: string): { link: string; siblings: string[] } {
  return { link: fs.readlinkSync(targetDir), siblings: fs.readdirSync(path.dirname(targetDir)).sort() };
}

// Processes whose command line mentions text (an installer working in this test's directories).
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    const cmdline = (() => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })();
    if (cmdline.includes(text) && Number(pid) !== process.pid) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

function distInfos(targetDir: string, prefix: string): string[] {
  return fs.readdirSync(targetDir).filter((name) => name.startsWith(prefix) && name.endsWith('.dist-info'));
}

describe('Python with uv', { skip: uvMissing }, () => {
  test('installs a wheel the runtime imports from the target, upgrades it in place, and never touches the runtime venv', async () => {
    const target = newTarget('python');
    const first = await installPackages(options('python', ['runbox-demo==1.0.0'], target));
    assert.equal(first.installer, 'uv');
    assert.deepEqual(first.installed, [{ name: 'runbox-demo', version: '1.0.0' }]);
    assert.ok(first.durationMs >= 0);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION, runbox_demo.greet("ada"))'), '1.0.0 hello ada from runbox-demo 1.0.0');
    if (RUN_AS) assert.equal(fs.statSync(path.join(target, 'runbox_demo', '__init__.py')).uid, RUN_AS.uid);

    const second = await installPackages(options('python', ['runbox-demo==2.0.0'], target));
    assert.deepEqual(second.installed, [{ name: 'runbox-demo', version: '2.0.0' }]);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION)'), '2.0.0');
    assert.deepEqual(distInfos(target, 'runbox_demo'), ['runbox_demo-2.0.0.dist-info'], 'uv uninstalls the version it upgrades');

    // Already there: uv checks the target and is done.
    const again = await installPackages(options('python', ['runbox-demo==2.0.0'], target));
    assert.deepEqual(again.installed, [{ name: 'runbox-demo', version: '2.0.0' }]);
    // The target is a link to one complete tree, with nothing else left next to it.
    const { link, siblings } = snapshot(target);
    assert.deepEqual(siblings, [link, 'python'].sort());
    assert.equal(fs.existsSync(path.join(target, '.lock')), false);

    const venvSite = fs.readdirSync(path.join(path.dirname(PYTHON), '..', 'lib')).map((lib) => path.join(path.dirname(PYTHON), '..', 'lib', lib, 'site-packages'));
    for (const site of venvSite) assert.ok(!fs.readdirSync(site).some((name) => name.startsWith('runbox_demo')), `nothing installed into ${site}`);
    assert.ok(index.requests.includes('/simple/runbox-demo/'), 'uv asked the loopback index');
  });

  test('resolves dependencies: runbox-dep-user brings runbox-demo', async () => {
    const target = newTarget('python');
    const outcome = await installPackages(options('python', ['runbox-dep-user'], target));
    assert.deepEqual(outcome.installed, [{ name: 'runbox-dep-user', version: '1.0.0' }]);
    assert.equal(await python(target, 'import runbox_dep_user; print(runbox_dep_user.hello())'), 'hello dep-user from runbox-demo 2.0.0');
  });

  test('unknown packages and versions, and source-only packages, fail with uv\'s own reason and change nothing', async () => {
    const target = newTarget('python');
    await installPackages(options('python', ['runbox-demo==1.0.0'], target));
    const before = snapshot(target);
    await assertInstallError(installPackages(options('python', ['runbox-no-such-package'], target)), 'install_failed', 'uv could not install runbox-no-such-package', 'not found in the package registry');
    const unknownVersion = await assertInstallError(installPackages(options('python', ['runbox-demo==9.9'], target)), 'install_failed', 'there is no version of runbox-demo==9.9');
    assert.ok(!unknownVersion.message.includes('.python.'), `the message names the target, not the staging tree: ${unknownVersion.message}`);
    await assertInstallError(installPackages(options('python', ['runbox-sdist-only'], target)), 'install_failed', 'runbox-sdist-only', 'no usable wheels');
    assert.ok(!index.requests.some((request) => request.endsWith('.tar.gz')), 'the sdist was never downloaded');
    assert.deepEqual(snapshot(target), before);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION)'), '1.0.0');
  });

  test('an install over maxBytes fails with both sizes and the cap, and the target stays as it was', async () => {
    const target = newTarget('python');
    await installPackages(options('python', ['runbox-demo==1.0.0'], target));
    const before = snapshot(target);
    const bytesNow = await treeBytes(target);
    const maxBytes = bytesNow + 100; // room for the present tree, not for runbox-dep-user too
    const error = await assertInstallError(installPackages(options('python', ['runbox-dep-user'], target, { maxBytes })), 'install_too_large', `cap of ${maxBytes} bytes (maxBytes)`);
    // Stopped while uv wrote (a file past the cap, or the tree measured past it), or refused once it finished.
    assert.match(error.message, new RegExp(`(would make the package directory \\d+ bytes \\(it was|was stopped while uv ran: .*\\(the package directory was) ${bytesNow} bytes\\)`));
    assert.deepEqual(snapshot(target), before);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION)'), '1.0.0');
  });

  test('a stalled index ends in install_timeout naming the limit, with no installer process left', async () => {
    const target = newTarget('python');
    const started = Date.now();
    await assertInstallError(installPackages(options('python', ['runbox-demo'], target, { indexUrl: index.stallingPypiUrl, timeoutMs: 1500 })), 'install_timeout', 'within 1500 ms (timeoutMs)');
    assert.ok(Date.now() - started < 30_000);
    assert.ok(index.requests.includes('/stall/simple/runbox-demo/'), 'uv was waiting on the index');
    assert.deepEqual(processesMentioning(root.path), []);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), [], 'the staging tree is gone');
  });

  test('a cancelled install throws the signal\'s reason and leaves nothing behind', async () => {
    const target = newTarget('python');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('the session ended')), 500);
    await assert.rejects(installPackages(options('python', ['runbox-dep-user'], target, { indexUrl: index.stallingPypiUrl, signal: controller.signal })), /the session ended/);
    assert.deepEqual(processesMentioning(root.path), []);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
  });

  test('the shared cache serves a new session after the index has gone', async () => {
    const ownIndex = await startPackageIndex();
    const first = await installPackages(options('python', ['runbox-dep-user'], newTarget('python'), { indexUrl: ownIndex.pypiUrl }));
    await ownIndex.close();
    const target = newTarget('python');
    const second = await installPackages(options('python', ['runbox-dep-user'], target, { indexUrl: ownIndex.pypiUrl }));
    assert.deepEqual(second.installed, first.installed);
    assert.equal(await python(target, 'import runbox_dep_user; print(runbox_dep_user.hello())'), 'hello dep-user from runbox-demo 2.0.0');
  });

  test('installs into one target run one after the other; different targets do not wait', async () => {
    const installer = new PackageInstaller();
    const target = newTarget('python');
    const [demo, depUser, elsewhere] = await Promise.all([
      installer.install(options('python', ['runbox-demo==1.0.0'], target)),
      installer.install(options('python', ['runbox-dep-user'], target)),
      installer.install(options('python', ['runbox-demo==2.0.0'], newTarget('python'))),
    ]);
    assert.deepEqual(demo.installed, [{ name: 'runbox-demo', version: '1.0.0' }]);
    assert.deepEqual(depUser.installed, [{ name: 'runbox-dep-user', version: '1.0.0' }]);
    assert.deepEqual(elsewhere.installed, [{ name: 'runbox-demo', version: '2.0.0' }]);
    // The second install started from the first one's tree: uv saw runbox-demo 1.0.0 satisfy runbox-dep-user.
    assert.equal(await python(target, 'import runbox_demo, runbox_dep_user; print(runbox_demo.VERSION, runbox_dep_user.hello())'), '1.0.0 hello dep-user from runbox-demo 1.0.0');
    assert.equal(snapshot(target).siblings.length, 2);
  });

  test('a target that is a plain directory is replaced by a link to the new tree', async () => {
    const target = newTarget('python');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'kept.py'), 'KEPT = True\n');
    await installPackages(options('python', ['runbox-demo==1.0.0'], target, { runAs: undefined }));
    assert.ok(fs.lstatSync(target).isSymbolicLink());
    assert.equal(await python(target, 'import kept, runbox_demo; print(kept.KEPT, runbox_demo.VERSION)'), 'True 1.0.0');
    assert.equal(snapshot(target).siblings.length, 2);
  });
});

describe('Python with pip (no uv)', { skip: pipMissing }, () => {
  // One test: pip costs most of a second of CPU per run, and the failures need a target holding runbox-demo 1.0.0,
  // which is what the first install makes.
  test('installs, upgrades (dropping the old dist-info) and resolves dependencies with the runtime\'s pip; unknown versions and source-only packages fail with pip\'s own reason', async () => {
    const target = newTarget('python');
    const first = await installPackages(options('python', ['runbox-demo==1.0.0'], target, { uvPath: null }));
    assert.equal(first.installer, 'pip');
    assert.deepEqual(first.installed, [{ name: 'runbox-demo', version: '1.0.0' }]);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION)'), '1.0.0');

    const before = snapshot(target);
    await assertInstallError(installPackages(options('python', ['runbox-demo==9.9'], target, { uvPath: null })), 'install_failed', 'pip could not install', 'No matching distribution found for runbox-demo==9.9');
    await assertInstallError(installPackages(options('python', ['runbox-sdist-only'], target, { uvPath: null })), 'install_failed', 'No matching distribution found for runbox-sdist-only');
    assert.deepEqual(snapshot(target), before);

    const second = await installPackages(options('python', ['runbox-demo==2.0.0'], target, { uvPath: path.join(root.path, 'no-such-uv') }));
    assert.equal(second.installer, 'pip', 'a missing uv falls back to pip');
    assert.deepEqual(second.installed, [{ name: 'runbox-demo', version: '2.0.0' }]);
    assert.deepEqual(distInfos(target, 'runbox_demo'), ['runbox_demo-2.0.0.dist-info']);
    assert.equal(await python(target, 'import runbox_demo; print(runbox_demo.VERSION)'), '2.0.0');

    await installPackages(options('python', ['runbox-dep-user'], target, { uvPath: null }));
    assert.equal(await python(target, 'import runbox_dep_user; print(runbox_dep_user.hello())'), 'hello dep-user from runbox-demo 2.0.0');
  });

  test('a stalled index ends in install_timeout with no pip process left', async () => {
    const target = newTarget('python');
    await assertInstallError(installPackages(options('python', ['runbox-demo'], target, { uvPath: null, indexUrl: index.stallingPypiUrl, timeoutMs: 2000 })), 'install_timeout', '2000 ms');
    assert.deepEqual(processesMentioning(root.path), []);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
  });
});

describe('Node with npm', { skip: npmMissing }, () => {
  // runbox-scripted comes with the first install (npm costs about a second of CPU per run): no script of it runs.
  test('installs packages that require() finds in <target>/node_modules; later installs keep earlier packages; install scripts never run', async () => {
    const target = newTarget('node');
    const first = await installPackages(options('node', ['runbox-demo-js@1.0.0', '@runbox/scoped-js', 'runbox-scripted'], target));
    assert.equal(first.installer, 'npm');
    assert.deepEqual(first.installed, [
      { name: 'runbox-demo-js', version: '1.0.0' },
      { name: '@runbox/scoped-js', version: '1.0.0' },
      { name: 'runbox-scripted', version: '1.0.0' },
    ]);
    assert.ok(fs.existsSync(path.join(target, 'node_modules', 'runbox-scripted', 'package.json')));
    assert.equal(fs.existsSync(index.postinstallMarker), false, 'preinstall, install and postinstall did not run');
    const byPath = await execa(process.execPath, ['-e', 'const m = require(require("path").join(process.argv[1], "node_modules/runbox-demo-js")); console.log(m.VERSION, m.greet("ada"))', target]);
    assert.equal(byPath.stdout, '1.0.0 hello ada from runbox-demo-js 1.0.0');
    if (RUN_AS) assert.equal(fs.statSync(path.join(target, 'node_modules', 'runbox-demo-js', 'index.js')).uid, RUN_AS.uid);

    const second = await installPackages(options('node', ['runbox-demo-js@latest'], target));
    assert.deepEqual(second.installed, [{ name: 'runbox-demo-js', version: '2.0.0' }]);
    // A bare require from a module whose search paths include the target's node_modules.
    const byName = await execa(process.execPath, ['-e', 'console.log(require("runbox-demo-js").VERSION, require("@runbox/scoped-js").scoped)'], {
      env: { NODE_PATH: path.join(target, 'node_modules') },
    });
    assert.equal(byName.stdout, '2.0.0 true');
    assert.ok(index.requests.includes('/npm/runbox-demo-js'));
  });

  test('a stalled registry ends in install_timeout with no npm process left', async () => {
    const target = newTarget('node');
    await assertInstallError(installPackages(options('node', ['runbox-demo-js'], target, { registryUrl: index.stallingNpmUrl, timeoutMs: 2000 })), 'install_timeout', 'npm did not finish', '2000 ms');
    assert.deepEqual(processesMentioning(root.path), []);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
  });

  // One install (about a second of CPU for npm) holds runbox-demo-js 1.0.0 for the next three tests: failures must
  // leave it as it is, and its registry then goes away for the cache test.
  describe('a target holding runbox-demo-js 1.0.0 from a registry that then goes away', () => {
    let ownIndex: PackageIndex;
    let held: string;
    before(async () => {
      ownIndex = await startPackageIndex();
      held = newTarget('node');
      await installPackages(options('node', ['runbox-demo-js@1.0.0'], held, { registryUrl: ownIndex.npmUrl }));
    });
    after(async () => {
      await ownIndex.close(); // again, when the cache test has already closed it
    });

    test('unknown packages and versions fail with npm\'s own reason and change nothing', async () => {
      const before = snapshot(held);
      await assertInstallError(installPackages(options('node', ['runbox-no-such-js'], held)), 'install_failed', 'npm could not install runbox-no-such-js', 'E404');
      await assertInstallError(installPackages(options('node', ['runbox-demo-js@9.9'], held)), 'install_failed', 'No matching version found for runbox-demo-js@9.9');
      assert.deepEqual(snapshot(held), before);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(held, 'package.json'), 'utf8')).dependencies, { 'runbox-demo-js': '1.0.0' });
    });

    test('an install over maxBytes fails and the target stays as it was', async () => {
      const before = snapshot(held);
      await assertInstallError(installPackages(options('node', ['runbox-scripted'], held, { maxBytes: 100 })), 'install_too_large', 'cap of 100 bytes');
      assert.deepEqual(snapshot(held), before);
    });

    test('the shared cache serves a new session after the registry has gone', async () => {
      await ownIndex.close();
      const target = newTarget('node');
      const outcome = await installPackages(options('node', ['runbox-demo-js@1.0.0'], target, { registryUrl: ownIndex.npmUrl }));
      assert.deepEqual(outcome.installed, [{ name: 'runbox-demo-js', version: '1.0.0' }]);
    });
  });
});

describe('installers reach only the configured index or registry', () => {
  // Nothing may have reached the foreign server, and the refused install's cache partition is gone.
  const assertNothingFetchedElsewhere = (ownCache: string) => {
    assert.deepEqual(index.foreignRequests, [], 'nothing was asked of the other host');
    assert.deepEqual(fs.existsSync(ownCache) ? fs.readdirSync(ownCache) : [], [], 'the refused install left nothing in the cache');
  };
  const isolated = (extra: Partial<InstallOptions> = {}): Partial<InstallOptions> => {
    const dir = path.join(root.path, `cache-${++nextDir}`);
    return { cache: new PackageCache(dir, 1024 * 1024 * 1024), ...extra };
  };

  test('npm: a registry package depending on a tarball URL and a git URL of another host is refused, naming both', { skip: npmMissing }, async () => {
    const extra = isolated();
    const target = newTarget('node');
    const error = await assertInstallError(installPackages(options('node', ['runbox-url-deps'], target, extra)), 'package_not_allowed', 'runbox-url-deps@1.0.0 depends on runbox-tarball-dep', `${index.foreignUrl}/runbox-tarball-dep-1.0.0.tgz`, 'runbox-git-dep', `git+http://127.0.0.1:${new URL(index.foreignUrl).port}/runbox-git-dep.git`);
    assert.ok(!error.message.includes('.node.'), error.message);
    assertNothingFetchedElsewhere((extra.cache as PackageCache).rootDir);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), [], 'no staging tree is left');
  });

  test('npm: a tarball-URL dependency alone is refused and named; so is a git dependency alone', { skip: npmMissing }, async () => {
    await assertInstallError(installPackages(options('node', ['runbox-tarball-dep-user'], newTarget('node'), isolated())), 'package_not_allowed', 'runbox-tarball-dep-user@1.0.0 depends on runbox-tarball-dep from a tarball URL');
    await assertInstallError(installPackages(options('node', ['runbox-git-dep-user'], newTarget('node'), isolated())), 'package_not_allowed', 'runbox-git-dep-user@1.0.0 depends on runbox-git-dep from a git URL');
    assert.deepEqual(index.foreignRequests, []);
  });

  test('npm: a packument whose tarball lives on another host is refused, naming the URL', { skip: npmMissing }, async () => {
    const extra = isolated();
    await assertInstallError(installPackages(options('node', ['runbox-foreign-tarball'], newTarget('node'), extra)), 'package_not_allowed', `runbox-foreign-tarball@1.0.0 has its tarball at "${index.foreignUrl}/runbox-foreign-tarball-1.0.0.tgz"`);
    assertNothingFetchedElsewhere((extra.cache as PackageCache).rootDir);
  });

  test('uv: a wheel depending on a URL of another host is refused by uv itself, naming it', { skip: uvMissing }, async () => {
    const extra = isolated();
    await assertInstallError(installPackages(options('python', ['runbox-url-dep'], newTarget('python'), extra)), 'package_not_allowed', 'uv refused to install runbox-url-dep', `runbox-demo @ ${index.foreignUrl}/files/runbox_demo-1.0.0-py3-none-any.whl`);
    assertNothingFetchedElsewhere((extra.cache as PackageCache).rootDir);
  });

  test('uv: an index page linking a file on another host is refused by the install proxy', { skip: uvMissing }, async () => {
    const extra = isolated();
    await assertInstallError(installPackages(options('python', ['runbox-foreign-file'], newTarget('python'), extra)), 'package_not_allowed', `${index.foreignUrl}/files/runbox_foreign_file-1.0.0-py3-none-any.whl`);
    assertNothingFetchedElsewhere((extra.cache as PackageCache).rootDir);
  });

  test('pip, which would follow the URL, is stopped by the install proxy, naming it', { skip: pipMissing }, async () => {
    const extra = isolated({ uvPath: null });
    await assertInstallError(installPackages(options('python', ['runbox-url-dep'], newTarget('python'), extra)), 'package_not_allowed', 'pip could not install runbox-url-dep', `${index.foreignUrl}/files/runbox_demo-1.0.0-py3-none-any.whl`);
    assertNothingFetchedElsewhere((extra.cache as PackageCache).rootDir);
  });
});

describe('the size cap holds while the installer runs, and the cache keeps nothing refused', () => {
  const MiB = 1024 * 1024;
  let big: PackageIndex;
  before(async () => {
    big = await startPackageIndex({ bigFileBytes: 4 * MiB, bigVersions: 3 });
  });
  after(async () => {
    await big.close();
  });

  // Installs each version with a 1 MiB cap into a new target with its own cache; each must be stopped while the
  // installer ran, and neither the cache nor the target's parent may keep anything.
  async function refuseAll(runtime: 'python' | 'node', name: string, versions: string[], extra: Partial<InstallOptions>, installer: string): Promise<void> {
    const cacheRoot = path.join(root.path, `big-cache-${++nextDir}`);
    const ownCache = new PackageCache(cacheRoot, 1024 * MiB);
    for (const version of versions) {
      const target = newTarget(runtime);
      const spec = runtime === 'python' ? `${name}==${version}` : `${name}@${version}`;
      await assertInstallError(installPackages(options(runtime, [spec], target, { cache: ownCache, maxBytes: MiB, indexUrl: big.pypiUrl, registryUrl: big.npmUrl, ...extra })), 'install_too_large', `was stopped while ${installer} ran`, `cap of ${MiB} bytes`);
      assert.deepEqual(fs.readdirSync(path.dirname(target)), [], 'no staging tree is left');
    }
    assert.deepEqual(fs.readdirSync(cacheRoot), [], 'the refused downloads are not in the cache');
    assert.equal(ownCache.totalBytes, 0);
    assert.deepEqual(processesMentioning(root.path), []);
  }

  // Each refusal is the same case (one version's own cache partition): one run proves it for pip and npm (most of
  // a second of CPU each), a few for uv, whose refusals several in a row once left their downloads in the cache.
  test('uv: 3 wheels of 4 MiB with a 1 MiB cap are each stopped mid-install and leave nothing', { skip: uvMissing }, async () => {
    await refuseAll('python', 'runbox-big', ['1.0.0', '2.0.0', '3.0.0'], {}, 'uv');
  });

  test('pip: the same, for one of them', { skip: pipMissing }, async () => {
    await refuseAll('python', 'runbox-big', ['1.0.0'], { uvPath: null }, 'pip');
  });

  test('npm: a 4 MiB tarball with a 1 MiB cap is stopped mid-install and leaves nothing', { skip: npmMissing }, async () => {
    await refuseAll('node', 'runbox-big-js', ['1.0.0'], {}, 'npm');
  });
});
