// The installer command lines and environment: wheels only, the runtime's interpreter, no scripts, no machine
// config, and the requested specs always after `--`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildInstallerEnv, buildNpmCommand, buildPipCommand, buildUvCommand, jailInstallerCommand, jailSetupRaced, NPM_NO_GIT } from '../../daemon/packages/commands.js';
import { foreignDependenciesOf, npmSpecSource } from '../../daemon/packages/npm-sources.js';
import { tailOf } from '../../daemon/packages/errors.js';
import { buildOuterNamespaceArgs, SETPRIV_PATH } from '../../daemon/sandbox/outer-namespace.js';

const python = { pythonBin: '/opt/py/bin/python3', targetDir: '/s/.python.abc', cacheDir: '/c/uv', indexUrl: 'https://pypi.org/simple', specifiers: ['rich==13.7.1', 'httpx'] };

// The value following a flag in an argument list.
const valueOf = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

test('uv installs wheels only into the target, for the runtime interpreter, with its own cache and no config', () => {
  const { file, args } = buildUvCommand('/tools/bin/uv', python);
  assert.equal(file, '/tools/bin/uv');
  assert.deepEqual(args.slice(0, 2), ['pip', 'install']);
  assert.equal(valueOf(args, '--target'), '/s/.python.abc');
  assert.equal(valueOf(args, '--python'), '/opt/py/bin/python3');
  assert.equal(valueOf(args, '--only-binary'), ':all:');
  assert.equal(valueOf(args, '--index-url'), 'https://pypi.org/simple');
  assert.equal(valueOf(args, '--cache-dir'), '/c/uv');
  for (const flag of ['--no-config', '--no-python-downloads', '--compile-bytecode']) assert.ok(args.includes(flag), flag);
  assert.deepEqual(args.slice(args.indexOf('--')), ['--', 'rich==13.7.1', 'httpx']);
});

test('pip runs as the runtime interpreter in isolated mode, wheels only, replacing what the target holds', () => {
  const { file, args } = buildPipCommand(python);
  assert.equal(file, '/opt/py/bin/python3');
  assert.deepEqual(args.slice(0, 4), ['-I', '-m', 'pip', 'install']);
  assert.equal(valueOf(args, '--target'), '/s/.python.abc');
  for (const flag of ['--isolated', '--upgrade', '--only-binary=:all:', '--no-input', '--disable-pip-version-check']) assert.ok(args.includes(flag), flag);
  assert.equal(valueOf(args, '--cache-dir'), '/c/uv');
  assert.deepEqual(args.slice(args.indexOf('--')), ['--', 'rich==13.7.1', 'httpx']);
});

test('npm installs into the prefix without scripts, audit or the machine\'s config files', () => {
  const { file, args } = buildNpmCommand({ npmPath: '/usr/bin/npm', prefixDir: '/s/.node.abc', cacheDir: '/c/npm', registryUrl: 'https://r/', configDir: '/home/x', specifiers: ['cheerio@^1', '@types/node'] });
  assert.equal(file, '/usr/bin/npm');
  assert.equal(args[0], 'install');
  assert.equal(valueOf(args, '--prefix'), '/s/.node.abc');
  assert.equal(valueOf(args, '--registry'), 'https://r/');
  assert.equal(valueOf(args, '--cache'), '/c/npm');
  assert.equal(valueOf(args, '--userconfig'), '/home/x/npmrc');
  assert.equal(valueOf(args, '--globalconfig'), '/home/x/npmrc-global');
  for (const flag of ['--ignore-scripts', '--no-audit', '--no-fund']) assert.ok(args.includes(flag), flag);
  assert.deepEqual(args.slice(args.indexOf('--')), ['--', 'cheerio@^1', '@types/node']);
  assert.ok(!args.includes('--proxy'), 'no proxy unless one is given');
});

test('npm takes registry dependencies only, has no git to run, and goes through the proxy it is given', () => {
  const { args } = buildNpmCommand({ npmPath: '/usr/bin/npm', prefixDir: '/s', cacheDir: '/c', registryUrl: 'https://r/', configDir: '/h', proxyUrl: 'http://127.0.0.1:5555', specifiers: ['x'] });
  for (const flag of ['--allow-git=none', '--allow-remote=none', '--allow-file=none', '--allow-directory=none']) assert.ok(args.includes(flag), flag);
  assert.equal(valueOf(args, '--git'), NPM_NO_GIT);
  assert.equal(valueOf(args, '--proxy'), 'http://127.0.0.1:5555');
  assert.equal(valueOf(args, '--https-proxy'), 'http://127.0.0.1:5555');
  assert.equal(valueOf(args, '--noproxy'), '');
  assert.ok(args.indexOf('--proxy') < args.indexOf('--'), 'options stay before the specs');
});

test('pip is given the proxy as an option; uv takes it from the environment', () => {
  const pip = buildPipCommand({ ...python, proxyUrl: 'http://127.0.0.1:5555' }).args;
  assert.equal(valueOf(pip, '--proxy'), 'http://127.0.0.1:5555');
  assert.ok(pip.indexOf('--proxy') < pip.indexOf('--'));
  assert.equal(buildInstallerEnv('/h', [], { proxyUrl: 'http://127.0.0.1:5555' }).HTTPS_PROXY, 'http://127.0.0.1:5555');
});

test('a jailed installer runs under prlimit and bubblewrap: own user and pid namespaces, host read-only but its directories', () => {
  const jailed = jailInstallerCommand({ file: '/tools/uv', args: ['pip', 'install', '--', 'x'] }, { bwrapPath: '/usr/bin/bwrap', prlimitPath: '/usr/bin/prlimit', writableDirs: ['/w/stage', '/w/cache'], cwd: '/w/home', maxFileBytes: 1024 });
  assert.equal(jailed.file, SETPRIV_PATH, 'a parent-death signal and a pid namespace of its own come first, as for a sandbox');
  const outer = buildOuterNamespaceArgs('private');
  assert.deepEqual(jailed.args.slice(0, outer.length), outer);
  assert.equal(outer[outer.indexOf('--propagation') + 1], 'private', 'its copy of the mounts does not change while bubblewrap binds the root read-only');
  const limited = jailed.args.slice(outer.length);
  assert.deepEqual(limited.slice(0, 5), ['/usr/bin/prlimit', '--fsize=1024', '--core=0', '--', '/usr/bin/bwrap']);
  const bwrap = limited.slice(5);
  for (const flag of ['--unshare-user', '--unshare-pid', '--die-with-parent']) assert.ok(bwrap.includes(flag), flag);
  assert.ok(!bwrap.includes('--unshare-net') && !bwrap.includes('--unshare-all'), 'it keeps the network, to reach its proxy');
  assert.deepEqual(bwrap.slice(bwrap.indexOf('--ro-bind'), bwrap.indexOf('--ro-bind') + 3), ['--ro-bind', '/', '/']);
  assert.ok(bwrap.indexOf('--bind') > bwrap.indexOf('--ro-bind'), 'the writable binds come after the read-only root');
  assert.deepEqual(bwrap.slice(bwrap.indexOf('/tools/uv') - 1), ['--', '/tools/uv', 'pip', 'install', '--', 'x'], 'the command follows bubblewrap\'s --, unchanged');
  assert.equal(valueOf(bwrap, '--chdir'), '/w/home');
});

const jailSkip = process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : !fs.existsSync('/usr/bin/bwrap') ? 'no /usr/bin/bwrap' : false;

test("a jailed installer sees nothing of the daemon's work directory (other executions' workspaces) but its own directories", { skip: jailSkip }, (t) => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-jail-'));
  const workspace = path.join(workDir, 'executions', 'exec-other', 'workspace');
  const stage = path.join(workDir, 'packages', 'stage');
  fs.mkdirSync(workspace, { recursive: true });
  fs.mkdirSync(stage, { recursive: true });
  execMount(['-t', 'tmpfs', 'runbox-test', workspace]);
  t.after(() => {
    execMount(['-l', workspace], 'umount');
    fs.rmSync(workDir, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(workspace, 'secret.txt'), 'another user\'s file');
  const script = `cat ${workspace}/secret.txt; ls ${workDir}; echo written > ${stage}/ok`;
  const jailed = jailInstallerCommand({ file: '/bin/sh', args: ['-c', script] }, { bwrapPath: '/usr/bin/bwrap', prlimitPath: '/usr/bin/prlimit', writableDirs: [stage], hiddenDirs: [workDir], cwd: stage, maxFileBytes: 1 << 20 });
  const run = spawnSync(jailed.file, jailed.args, { encoding: 'utf8' });
  assert.doesNotMatch(run.stdout, /another user/, `the workspace was read: ${run.stdout}`);
  assert.match(run.stderr, /secret\.txt: No such file or directory/);
  assert.deepEqual(run.stdout.trim().split(/\s+/), ['packages'], 'only the path to its own directory is there');
  assert.equal(fs.readFileSync(path.join(stage, 'ok'), 'utf8'), 'written\n', 'its own directory is still writable');
});

function execMount(args: string[], tool = 'mount'): void {
  const done = spawnSync(`/usr/bin/${tool}`, args, { encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${done.stderr}`);
}

test('jailSetupRaced: only bubblewrap losing its root bind to a vanishing mount, before the installer ran', () => {
  const raced = "bwrap: Can't bind mount /oldroot/ on /newroot/: Unable to apply mount flags: remount \"/newroot/tmp/runbox-test-Yt66bN/executions/exec--11115-t8ogLl7nxyBQ/workspace\": No such file or directory\n";
  assert.equal(jailSetupRaced({ exitCode: 1, stderr: raced }), true);
  assert.equal(jailSetupRaced({ exitCode: 2, stderr: raced }), false, 'another exit code is the installer\'s');
  assert.equal(jailSetupRaced({ exitCode: 1, stderr: 'error: No such file or directory\n' }), false);
  assert.equal(jailSetupRaced({ exitCode: 1, stderr: "bwrap: Can't bind mount /oldroot/w on /newroot/w: No such file or directory\n" }), false, 'a bind of its own dirs that fails is not the race');
});

test('npm dependency specs: versions, ranges, tags and npm: aliases are the registry; the rest is named', () => {
  for (const spec of ['1.2.3', '^1', '>=1 <2', 'latest', '*', '', 'npm:other@^2', 'npm:@scope/other']) assert.equal(npmSpecSource(spec), 'registry', spec);
  for (const spec of ['git+http://127.0.0.1:1/x.git', 'git://h/x', 'github:o/r', 'o/r', 'o/r#main', 'https://h/x.git', 'npm:x@github:o/r']) assert.equal(npmSpecSource(spec), 'git', spec);
  for (const spec of ['http://127.0.0.1:1/x.tgz', 'https://h/x.tar.gz']) assert.equal(npmSpecSource(spec), 'url', spec);
  for (const spec of ['file:../x', 'link:../x', './x', '/abs/x', '~/x', 'x.tgz']) assert.equal(npmSpecSource(spec), 'path', spec);
  const packument = {
    name: 'p',
    versions: {
      '1.0.0': { dependencies: { a: '^1', b: 'http://h/b.tgz' }, optionalDependencies: { c: 'github:o/c' }, dist: { tarball: 'https://r.example/p/-/p-1.0.0.tgz' } },
      '2.0.0': { dependencies: { a: '^2' }, dist: { tarball: 'https://elsewhere.example/p-2.0.0.tgz' } },
    },
  };
  assert.deepEqual(foreignDependenciesOf(packument, 'https://r.example'), [
    { from: 'p@1.0.0', name: 'b', spec: 'http://h/b.tgz', source: 'url' },
    { from: 'p@1.0.0', name: 'c', spec: 'github:o/c', source: 'git' },
    { from: 'p@2.0.0', name: null, spec: 'https://elsewhere.example/p-2.0.0.tgz', source: 'url' },
  ]);
  assert.deepEqual(foreignDependenciesOf('not a packument', 'https://r.example'), []);
});

test('the environment holds only what installers need: nothing of the daemon\'s passes', () => {
  assert.deepEqual(buildInstallerEnv('/tmp/h', ['/opt/node/bin']), {
    PATH: '/opt/node/bin:/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp/h',
    TMPDIR: '/tmp/h',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
  });
  assert.equal(buildInstallerEnv('/tmp/h', ['/usr/bin']).PATH, '/usr/bin:/usr/local/bin:/bin');
});

test('installer messages keep their trimmed end, cut at a line when one is near', () => {
  assert.equal(tailOf('  short\n', 2000), 'short');
  const long = `${'noise line\n'.repeat(500)}error: No solution found\n`;
  const tail = tailOf(long, 2000);
  assert.ok(tail.length <= 2001);
  assert.ok(tail.startsWith('…\nnoise line'));
  assert.ok(tail.endsWith('error: No solution found'));
});
