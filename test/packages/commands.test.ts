// The installer command lines and environment: wheels only, the runtime's interpreter, no scripts, no machine
// config, and the requested specs always after `--`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildInstallerEnv, buildNpmCommand, buildPipCommand, buildUvCommand } from '../../daemon/packages/commands.js';
import { tailOf } from '../../daemon/packages/errors.js';

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
