// Missing imports end to end: real sandboxes, a real daemon, and the package index of runtime-install.test.ts served
// on loopback. The error of a missing module says how to install it (or why it cannot be installed here), stays a
// ModuleNotFoundError pointing at the code's own line; with installOnImport the code's own top-level imports install
// their distribution through runbox.install (same validation, deny list, limits) and then import it, and so do
// Node's require() and import() of a bare package name.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { installsForRun } from '../../daemon/executions/install-tool.js';
import { startPackageIndex, type PackageIndex } from '../helpers/package-index.js';
import { postExecution, startDaemon, testConfig, type TestDaemon } from '../helpers/daemon.js';

let index: PackageIndex;
let onImport: TestDaemon;
let hintsOnly: TestDaemon;
before(async () => {
  index = await startPackageIndex();
  const common = { pythonIndexUrl: index.pypiUrl, npmRegistryUrl: index.npmUrl, installTimeoutMs: 60_000, warmSandboxes: 0 };
  onImport = await startDaemon({ ...common, installOnImport: true, packageDeny: ['beautifulsoup4', 'left-pad'] }, { logs: true });
  hintsOnly = await startDaemon({ ...common, packageAllow: ['runbox-demo', 'pyyaml', 'runbox-demo-js', '@runbox/scoped-js', 'lodash'] });
});
after(async () => {
  await onImport?.close();
  await hintsOnly?.close();
  await index?.close();
});

const repository = new URL('../../../', import.meta.url).pathname;
const { packageOf } = createRequire(import.meta.url)(`${repository}runtimes/node/prelude/imports.cjs`) as { packageOf(specifier: string): string | null };

const PYTHON = `${testConfig({}).pythonEnv}/bin/python3`;
// The reason the Python unit test cannot run here, or false.
const pythonSkip = (): string | false => (existsSync(PYTHON) ? false : `${PYTHON} does not exist (npm run setup makes it)`);

describe('pure parts', () => {
  test('Node: the package a specifier names, or none for paths, URLs and built-ins', () => {
    const cases: Record<string, string | null> = {
      lodash: 'lodash', 'lodash/fp': 'lodash', '@scope/pkg': '@scope/pkg', '@scope/pkg/sub/deep': '@scope/pkg', 'a.b-c_d': 'a.b-c_d',
      './x': null, '../x': null, '/abs': null, 'node:fs': null, fs: null, 'fs/promises': null, 'child_process': null,
      'https://evil/x': null, 'file:x': null, '@scope': null, 'Upper': null, '-rf': null, 'x.tgz': null, 'favicon.ico': null, '_private': null, '.hidden': null, 'node_modules': null, 'a\\b': null, '': null,
    };
    for (const [specifier, expected] of Object.entries(cases)) assert.equal(packageOf(specifier), expected, specifier);
  });

  test('Python: distributions of import names and the hints, with the PEP 503 comparison of the lists', { skip: pythonSkip() }, () => {
    const script = [
      'import json, sys',
      'from importlib.machinery import SourceFileLoader',
      `m = SourceFileLoader("names", ${JSON.stringify(`${repository}runtimes/python/runbox_prelude/import_names.py`)}).load_module()`,
      'print(json.dumps({',
      '  "map": [m.distribution_for(n) for n in ["sklearn", "PIL", "cv2", "httpx", "runbox_demo", "caf\\u00e9", "trailing_"]],',
      '  "denied": m.hint("PIL", "pillow", {"allow": [], "deny": ["Pillow"]}),',
      '  "allowed": m.hint("dateutil", "python-dateutil", {"allow": ["Python_Dateutil"], "deny": []}),',
      '  "none": m.hint("yaml", "pyyaml", None),',
      '}))',
    ].join('\n');
    const out = JSON.parse(execFileSync(PYTHON, ['-I', '-B', '-c', script], { encoding: 'utf8' }));
    assert.deepEqual(out.map, ['scikit-learn', 'pillow', 'opencv-python-headless', 'httpx', 'runbox_demo', null, null]);
    assert.equal(out.denied, "No module named 'PIL' (the package pillow is on the deny list of this daemon, so it cannot be installed here; the import name PIL comes from the distribution pillow)");
    assert.equal(out.allowed, 'No module named \'dateutil\' (install it with install_package("python-dateutil"); the import name dateutil comes from the distribution python-dateutil)');
    assert.equal(out.none, "No module named 'yaml' (this daemon does not install packages)");
  });

  test('the run message\'s installs: the option and the lists, or null when the daemon installs nothing', () => {
    const config = { installOnImport: true, packageAllow: ['a'], packageDeny: ['b'] };
    assert.deepEqual(installsForRun(config, {} as never), { onImport: true, allow: ['a'], deny: ['b'] });
    assert.equal(installsForRun(config, null), null);
  });
});

const run = async (d: TestDaemon, body: object) => {
  const answer = await postExecution(d.url, { timeoutMs: 120_000, ...body });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
};

// Runs an execution; returns its result and the index requests it caused (the index serves every test of this
// file, one at a time).
async function runCounting(d: TestDaemon, body: object): Promise<{ body: any; requests: string[] }> {
  const before = index.requests.length;
  const result = await run(d, body);
  return { body: result, requests: index.requests.slice(before) };
}

// A workspace file of the request, from its text.
const workspaceFile = (path: string, text: string) => ({ path, content: Buffer.from(text).toString('base64') });

// The installs the installOnImport daemon logged from a given log line on: `[ok, names]` or `[refused, code]` each.
const installsLogged = (from: number) =>
  onImport.logs.slice(from).flatMap((line) => {
    if (line.msg === 'packages installed') return [['ok', (line.installed as Array<{ name: string }>).map((p) => p.name).join(',')]];
    return line.msg === 'package install refused or failed' ? [['refused', String(line.code)]] : [];
  });

describe('Python with installOnImport', () => {
  test('a missing import installs its distribution and imports it: at top level, in a function, in async code, in a thread', { timeout: 180_000 }, async () => {
    const { body, requests } = await runCounting(onImport, {
      runtime: 'python',
      code: [
        'import threading',
        'import runbox_demo',
        'def load_yaml():',
        '    import yaml',
        '    return yaml.DISTRIBUTION',
        'async def load_attr():',
        '    import attr',
        '    return attr.DISTRIBUTION',
        'found = {}',
        'def in_thread():',
        '    import runbox_dep_user',
        '    found["thread"] = runbox_dep_user.hello()',
        't = threading.Thread(target=in_thread)',
        't.start()',
        't.join()',
        'set_result({"demo": runbox_demo.greet("py"), "yaml": load_yaml(), "attr": await load_attr(), **found, "where": runbox_demo.__file__})',
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result, {
      demo: 'hello py from runbox-demo 2.0.0',
      yaml: 'pyyaml',
      attr: 'attrs',
      thread: 'hello dep-user from runbox-demo 2.0.0',
      where: body.result.where,
    });
    assert.match(body.result.where, /^\/runbox\/packages\/python\//);
    for (const project of ['runbox-demo', 'pyyaml', 'attrs', 'runbox-dep-user']) {
      assert.ok(requests.some((request) => request.startsWith(`/simple/${project}/`)), `the index was asked for ${project}: ${requests.join(' ')}`);
    }
    assert.ok(!requests.some((request) => /\/simple\/(yaml|attr)\//.test(request)), 'mapped names ask for their distribution, not the import name');
  });

  test('a refused install raises ModuleNotFoundError with the reason, once per name, pointing at the import line', { timeout: 120_000 }, async () => {
    const logsBefore = onImport.logs.length;
    const { body, requests } = await runCounting(onImport, {
      runtime: 'python',
      code: [
        'seen = []',
        'for _ in range(3):',
        '    try:',
        '        import bs4',
        '    except ModuleNotFoundError as e:',
        '        seen.append([type(e).__name__, e.name, str(e)])',
        'set_result(seen)',
        'x = 1',
        'import bs4',
      ].join('\n'),
    });
    assert.equal(body.status, 'error', JSON.stringify(body));
    assert.equal(body.error.type, 'ModuleNotFoundError');
    assert.equal(body.result.length, 3);
    for (const [type, name, message] of body.result) {
      assert.equal(type, 'ModuleNotFoundError');
      assert.equal(name, 'bs4');
      assert.equal(message, 'No module named \'bs4\' (installing beautifulsoup4 for it failed: package "beautifulsoup4" is on the deny list of this daemon)');
    }
    assert.equal(body.error.message, body.result[0][2]);
    assert.match(body.error.traceback, /File "main\.py", line 9, in <module>\n {4}import bs4\n/);
    assert.doesNotMatch(body.error.traceback, /runbox_prelude|importlib/);
    assert.deepEqual(installsLogged(logsBefore), [['refused', 'package_not_allowed']], 'one install was asked for, for four imports of the name');
    assert.deepEqual(requests, [], 'a denied distribution never reaches the index');
  });

  test('the standard library, _private names, submodules and the imports of libraries never install', { timeout: 120_000 }, async () => {
    const library = 'try:\n    import runbox_url_dep\nexcept ImportError as e:\n    MESSAGE = str(e)\n';
    const { body, requests } = await runCounting(onImport, {
      runtime: 'python',
      files: [workspaceFile('probe_lib.py', library)],
      code: [
        'out = {}',
        'for name in ["tkinter", "_runbox_private", "numpy.runbox_nosuch", "café"]:',
        '    try:',
        '        __import__(name)',
        '    except ModuleNotFoundError as e:',
        '        out[name] = str(e)',
        'import probe_lib',
        'out["library"] = probe_lib.MESSAGE',
        'import tools.api',  // the prelude's own module of tool models: never an install of PyPI's "tools"
        'out["tools"] = tools.api.__name__',
        'set_result(out)',
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result, {
      tkinter: "No module named 'tkinter'",
      _runbox_private: "No module named '_runbox_private'",
      'numpy.runbox_nosuch': "No module named 'numpy.runbox_nosuch'",
      'café': "No module named 'café'",
      library: "No module named 'runbox_url_dep'",
      tools: 'tools.api',
    });
    assert.deepEqual(requests, [], 'the index got no request');
  });
});

describe('Node with installOnImport', () => {
  test('require() and import() of a missing bare package install it and load it: subpaths and scoped names install their package, once', { timeout: 180_000 }, async () => {
    const logsBefore = onImport.logs.length;
    const { body, requests } = await runCounting(onImport, {
      runtime: 'node',
      code: [
        "const demo = require('runbox-demo-js');",
        "const load = () => require('@runbox/scoped-js/index.js');",
        'const scoped = load().scoped;',
        "const again = require('runbox-demo-js/index.js');",
        "const esm = await import('runbox-scripted');",
        // Two import()s at once of one missing package: one install (refused: it depends on a tarball elsewhere).
        "const both = await Promise.allSettled([import('runbox-tarball-dep-user'), import('runbox-tarball-dep-user/index.js')]);",
        'const refused = both.map((outcome) => [outcome.status, outcome.reason.message.split(" (")[1].split(":")[0]]);',
        'setResult({ demo: demo.greet("js"), scoped, same: again === demo, esm: [esm.default.scripted, esm.scripted], where: require.resolve("runbox-demo-js"), refused });',
      ].join('\n'),
    });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    const refused = ['rejected', 'installing runbox-tarball-dep-user for it failed'];
    assert.deepEqual(body.result, { demo: 'hello js from runbox-demo-js 2.0.0', scoped: true, same: true, esm: [true, true], where: body.result.where, refused: [refused, refused] });
    assert.match(body.result.where, /^\/node_modules\/runbox-demo-js\//);
    assert.deepEqual(installsLogged(logsBefore), [['ok', 'runbox-demo-js'], ['ok', '@runbox/scoped-js'], ['ok', 'runbox-scripted'], ['refused', 'package_not_allowed']]);
    for (const name of ['runbox-demo-js', '@runbox/scoped-js', 'runbox-scripted']) {
      assert.ok(requests.some((request) => request.startsWith(`/npm/${name}`)), `the registry was asked for ${name}: ${requests.join(' ')}`);
    }
  });

  test('a refused install raises with the reason, once per name; an uncaught require points at its line', { timeout: 120_000 }, async () => {
    const logsBefore = onImport.logs.length;
    const { body, requests } = await runCounting(onImport, {
      runtime: 'node',
      code: [
        'const seen = [];',
        'for (let i = 0; i < 2; i++) {',
        "  try { require('left-pad'); } catch (e) { seen.push([e.code, e.message.split('\\n')[0]]); }",
        "  try { await import('left-pad/sub'); } catch (e) { seen.push([e.code, e.message]); }",
        '}',
        "try { require('./not-a-package'); } catch (e) { seen.push([e.code, e.message.split('\\n')[0]]); }",
        'setResult(seen);',
        "require('left-pad');",
      ].join('\n'),
    });
    const reason = '(installing left-pad for it failed: package "left-pad" is on the deny list of this daemon)';
    assert.deepEqual(body.result, [
      ['MODULE_NOT_FOUND', `Cannot find module 'left-pad' ${reason}`],
      ['ERR_MODULE_NOT_FOUND', `Cannot find package 'left-pad' imported from /workspace/main.js ${reason}`],
      ['MODULE_NOT_FOUND', `Cannot find module 'left-pad' ${reason}`],
      ['ERR_MODULE_NOT_FOUND', `Cannot find package 'left-pad' imported from /workspace/main.js ${reason}`],
      ['MODULE_NOT_FOUND', "Cannot find module './not-a-package'"],
    ]);
    assert.equal(body.status, 'error');
    assert.equal(body.error.message.split('\n')[0], `Cannot find module 'left-pad' ${reason}`);
    assert.match(body.error.traceback, /at Object.<anonymous> \(\/workspace\/main\.js:8:1\)/);
    assert.doesNotMatch(body.error.traceback, /\/runbox\/node\//);
    assert.deepEqual(installsLogged(logsBefore), [['refused', 'package_not_allowed']], 'one install was asked for, for five imports of the name');
    assert.deepEqual(requests, [], 'a denied package never reaches the registry');
  });

  test('an uncaught import() of a refused package carries the reason, without the prelude\'s frames; a library\'s own require never installs', { timeout: 120_000 }, async () => {
    const library = "let message;\ntry { require('runbox-demo-js'); } catch (e) { message = e.message.split('\\n')[0]; }\nmodule.exports = message;\n";
    const { body, requests } = await runCounting(onImport, {
      runtime: 'node',
      files: [workspaceFile('probe-lib.js', library)],
      code: "setResult(require('./probe-lib.js'));\nawait import('left-pad');",
    });
    assert.equal(body.result, "Cannot find module 'runbox-demo-js'");
    assert.equal(body.error.message, 'Cannot find package \'left-pad\' imported from /workspace/main.js (installing left-pad for it failed: package "left-pad" is on the deny list of this daemon)');
    assert.doesNotMatch(body.error.traceback, /\/runbox\/node\/|import-hooks/);
    assert.deepEqual(requests, []);
  });
});

describe('without installOnImport: the error says how to install', () => {
  test('Python: the hint names the distribution, or the policy that refuses it; nothing is installed', { timeout: 120_000 }, async () => {
    const { body, requests } = await runCounting(hintsOnly, {
      runtime: 'python',
      code: [
        'out = {}',
        'for name in ["runbox_demo", "yaml", "sklearn", "numpy.runbox_nosuch", "tkinter"]:',
        '    try:',
        '        __import__(name)',
        '    except ModuleNotFoundError as e:',
        '        out[name] = [e.name, str(e)]',
        'set_result(out)',
        'import sklearn',
      ].join('\n'),
    });
    assert.deepEqual(body.result, {
      runbox_demo: ['runbox_demo', 'No module named \'runbox_demo\' (install it with install_package("runbox_demo"))'],
      yaml: ['yaml', 'No module named \'yaml\' (install it with install_package("pyyaml"); the import name yaml comes from the distribution pyyaml)'],
      sklearn: ['sklearn', "No module named 'sklearn' (the package scikit-learn is not on the allow list of this daemon, so it cannot be installed here; the import name sklearn comes from the distribution scikit-learn)"],
      'numpy.runbox_nosuch': ['numpy.runbox_nosuch', "No module named 'numpy.runbox_nosuch'"],
      tkinter: ['tkinter', "No module named 'tkinter'"],
    });
    assert.equal(body.error.type, 'ModuleNotFoundError');
    assert.equal(body.error.message, body.result.sklearn[1]);
    assert.match(body.error.traceback, /^Traceback \(most recent call last\):\n {2}File "main\.py", line 8, in <module>\n {4}import sklearn\nModuleNotFoundError: No module named 'sklearn' \(/);
    assert.doesNotMatch(body.error.traceback, /runbox_prelude/);
    assert.deepEqual(requests, [], 'nothing was installed');
  });

  test('Node: require and import() of a bare package name; scoped names, subpaths, built-ins and paths', { timeout: 120_000 }, async () => {
    const { body, requests } = await runCounting(hintsOnly, {
      runtime: 'node',
      code: [
        'const out = {};',
        "for (const name of ['runbox-demo-js', 'lodash/fp', '@runbox/scoped-js/sub', 'left-pad', './nope', '/nope', 'fs/nope', 'node:nope']) {",
        '  try { require(name); } catch (e) { out[name] = [e.code, e.message.split("\\n")[0]]; }',
        '}',
        "try { await import('lodash'); } catch (e) { out.esm = [e.code, e.message]; }",
        'setResult(out);',
        '',
        "await import('runbox-demo-js');",
      ].join('\n'),
    });
    const hint = (name: string) => `Cannot find module '${name}' (install it with installPackage(${JSON.stringify(name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0])}))`;
    assert.deepEqual(body.result, {
      'runbox-demo-js': ['MODULE_NOT_FOUND', hint('runbox-demo-js')],
      'lodash/fp': ['MODULE_NOT_FOUND', hint('lodash/fp')],
      '@runbox/scoped-js/sub': ['MODULE_NOT_FOUND', hint('@runbox/scoped-js/sub')],
      'left-pad': ['MODULE_NOT_FOUND', "Cannot find module 'left-pad' (the package left-pad is not on the allow list of this daemon, so it cannot be installed here)"],
      './nope': ['MODULE_NOT_FOUND', "Cannot find module './nope'"],
      '/nope': ['MODULE_NOT_FOUND', "Cannot find module '/nope'"],
      'fs/nope': ['MODULE_NOT_FOUND', "Cannot find module 'fs/nope'"],
      'node:nope': ['ERR_UNKNOWN_BUILTIN_MODULE', 'No such built-in module: node:nope'],
      esm: ['ERR_MODULE_NOT_FOUND', "Cannot find package 'lodash' imported from /workspace/main.js"],
    });
    assert.equal(body.error.type, 'Error');
    assert.equal(body.error.message, "Cannot find package 'runbox-demo-js' imported from /workspace/main.js (install it with installPackage(\"runbox-demo-js\"))");
    assert.match(body.error.traceback, /installPackage\("runbox-demo-js"\)/);
    assert.doesNotMatch(body.error.traceback, /\/runbox\/node\//);
    assert.deepEqual(requests, [], 'nothing was installed');
  });

  test('Node: a missing file of an installed package gets no install hint; the traceback points at the require line', { timeout: 120_000 }, async () => {
    const body = await run(hintsOnly, {
      runtime: 'node',
      code: "installPackage('runbox-demo-js');\nlet missing;\ntry { require('runbox-demo-js/nope'); } catch (e) { missing = e.message.split('\\n')[0]; }\nsetResult(missing);\nrequire('@runbox/scoped-js');",
    });
    assert.equal(body.result, "Cannot find module 'runbox-demo-js/nope'");
    assert.equal(body.error.message.split('\n')[0], 'Cannot find module \'@runbox/scoped-js\' (install it with installPackage("@runbox/scoped-js"))');
    assert.match(body.error.traceback, /at Object.<anonymous> \(\/workspace\/main\.js:5:1\)/);
    assert.doesNotMatch(body.error.traceback, /\/runbox\/node\//);
  });
});
