// What sandboxed code may name in install_package()/installPackage(): names and versions pass, anything that an
// installer could read as an option, a URL, a path or a marker is refused with a message naming it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InstallError } from '../../daemon/packages/errors.js';
import { checkPolicy, MAX_PACKAGES_PER_REQUEST, parsePackageSpecs } from '../../daemon/packages/specs.js';

// Asserts that parsing throws invalid_package with a message containing every fragment given.
function assertInvalid(runtime: 'python' | 'node', specs: unknown, ...fragments: string[]): void {
  assert.throws(
    () => parsePackageSpecs(runtime, specs),
    (error: unknown) => {
      assert.ok(error instanceof InstallError, `expected an InstallError, got ${String(error)}`);
      assert.equal(error.code, 'invalid_package');
      for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} should include ${JSON.stringify(fragment)}`);
      return true;
    },
    `${runtime} ${JSON.stringify(specs)} should be refused`,
  );
}

test('Python names, extras and version clauses pass, trimmed, with PEP 503 normalized names', () => {
  const specs = parsePackageSpecs('python', [
    'httpx',
    ' rich==13.7.1 ',
    'Foo_Bar.baz>=1,<2',
    'requests[socks,security]~=2.31',
    'numpy!=1.0.*',
    'pkg===1.0+local',
    'a',
    'x2<3.0.0rc1',
    'y>1.0.post1',
  ]);
  assert.deepEqual(specs[1], { runtime: 'python', name: 'rich', normalized: 'rich', specifier: 'rich==13.7.1' });
  assert.deepEqual(specs[2], { runtime: 'python', name: 'Foo_Bar.baz', normalized: 'foo-bar-baz', specifier: 'Foo_Bar.baz>=1,<2' });
  assert.equal(specs[3].name, 'requests');
  assert.equal(specs[3].specifier, 'requests[socks,security]~=2.31');
  assert.deepEqual(specs.map((spec) => spec.normalized), ['httpx', 'rich', 'foo-bar-baz', 'requests', 'numpy', 'pkg', 'a', 'x2', 'y']);
});

test('hostile Python specs are refused with the rule they broke', () => {
  assertInvalid('python', ["httpx; os_name=='nt'"], 'httpx; os_name', 'environment markers');
  assertInvalid('python', ['-r /etc/passwd'], 'options are not allowed');
  assertInvalid('python', ['--index-url=http://evil'], 'options are not allowed');
  assertInvalid('python', ['git+https://x'], 'URLs');
  assertInvalid('python', ['https://evil.example/pkg.whl'], 'URLs');
  assertInvalid('python', ['foo @ file:///x'], 'direct references');
  assertInvalid('python', ['foo@https://x/foo.whl'], 'direct references');
  assertInvalid('python', ['../x'], 'paths are not allowed');
  assertInvalid('python', ['./dist/foo.whl'], 'paths are not allowed');
  assertInvalid('python', ['/tmp/foo'], 'paths are not allowed');
  assertInvalid('python', ['foo == 1.0'], 'spaces are not allowed');
  assertInvalid('python', ['foo[bar, baz]'], 'spaces are not allowed');
  assertInvalid('python', ['-foo'], 'options');
  assertInvalid('python', ['foo-'], '"foo-"');
  assertInvalid('python', ['foo=1'], '"foo=1"');
  assertInvalid('python', ['foo==1;rm'], 'environment markers');
  assertInvalid('python', ['foo==$(id)'], '"foo==$(id)"');
  assertInvalid('python', ['foo\nbar'], 'spaces');
  assertInvalid('python', [''], 'it is empty');
  assertInvalid('python', ['   '], 'it is empty');
});

test('npm names, scopes, versions, ranges and dist-tags pass', () => {
  const specs = parsePackageSpecs('node', ['cheerio', '@types/node@20', 'lodash@4.17.21', 'react@^18.2.0', 'a@>=1.0.0 <2 || 3.x', 'b@latest', 'c@~1.2', 'd@*', 'x.y-z_1@1.0.0-beta.1+build.5']);
  assert.deepEqual(specs[1], { runtime: 'node', name: '@types/node', normalized: '@types/node', specifier: '@types/node@20' });
  assert.deepEqual(specs.map((spec) => spec.name), ['cheerio', '@types/node', 'lodash', 'react', 'a', 'b', 'c', 'd', 'x.y-z_1']);
  assert.equal(specs[4].specifier, 'a@>=1.0.0 <2 || 3.x');
});

test('hostile npm specs are refused with the rule they broke', () => {
  assertInvalid('node', ['npm:evil'], 'npm:');
  assertInvalid('node', ['foo@npm:evil@1'], 'protocol');
  assertInvalid('node', ['git+https://github.com/x/y'], 'protocol');
  assertInvalid('node', ['foo@git+ssh://git@github.com/x/y'], 'protocol');
  assertInvalid('node', ['file:../x'], 'protocol');
  assertInvalid('node', ['foo@file:../x'], 'protocol');
  assertInvalid('node', ['https://evil.example/x.tgz'], 'protocol');
  assertInvalid('node', ['@scope/../x'], 'paths are not allowed');
  assertInvalid('node', ['../x'], 'paths');
  assertInvalid('node', ['user/repo'], 'paths');
  assertInvalid('node', ['foo@./bar'], 'paths');
  assertInvalid('node', ['foo@.'], 'paths');
  assertInvalid('node', ['foo.tgz'], 'tarball');
  assertInvalid('node', ['foo@1.tar.gz'], 'paths');
  assertInvalid('node', ['--registry=http://evil'], 'options');
  assertInvalid('node', ['-g'], 'options');
  assertInvalid('node', ['.hidden'], 'may not start with . or _');
  assertInvalid('node', ['_private'], 'may not start with . or _');
  assertInvalid('node', ['@_scope/x'], 'may not start with . or _');
  assertInvalid('node', ['Cheerio'], 'lowercase');
  assertInvalid('node', ["foo'bar"], 'lowercase');
  assertInvalid('node', ['foo bar'], 'lowercase');
  assertInvalid('node', ['foo@1.0;rm -rf'], 'a version, range or dist-tag');
  assertInvalid('node', ['foo@$(id)'], 'a version, range or dist-tag');
  assertInvalid('node', ['foo@'], 'empty');
  assertInvalid('node', ['@'], 'expected lowercase');
  assertInvalid('node', ['node_modules'], 'reserved');
  assertInvalid('node', [''], 'the name is empty');
});

test('the list itself: a non-empty array of at most 32 strings of at most 200 characters', () => {
  for (const runtime of ['python', 'node'] as const) {
    assertInvalid(runtime, [], 'empty list');
    assertInvalid(runtime, 'httpx', 'expected a list', 'received "httpx"');
    assertInvalid(runtime, null, 'received null');
    assertInvalid(runtime, { name: 'x' }, 'an object');
    assertInvalid(runtime, ['ok', 42], 'package 2 must be a string', 'number 42');
    assertInvalid(runtime, [['nested']], 'package 1 must be a string', 'an array');
    assertInvalid(runtime, Array(MAX_PACKAGES_PER_REQUEST + 1).fill('a'), 'at most 32 packages', 'received 33');
    assertInvalid(runtime, ['a'.repeat(201)], '201 characters long', 'limit is 200');
  }
  assert.equal(parsePackageSpecs('python', Array(MAX_PACKAGES_PER_REQUEST).fill('a')).length, MAX_PACKAGES_PER_REQUEST);
  assert.equal(parsePackageSpecs('python', ['a'.repeat(200)])[0].name.length, 200);
});

test('the spec length limit keeps npm names under npm\'s own 214-character limit', () => {
  assert.equal(parsePackageSpecs('node', [`@s/${'n'.repeat(197)}`])[0].name.length, 200);
  assertInvalid('node', ['n'.repeat(215)], '215 characters long');
});

test('policy: deny wins, an empty allow list allows everything else, names compare normalized', () => {
  const python = parsePackageSpecs('python', ['Rich_Text==1.0', 'httpx']);
  checkPolicy(python, { allow: [], deny: [] });
  checkPolicy(python, { allow: ['rich-text', 'HTTPX'], deny: ['requests'] });
  assert.throws(
    () => checkPolicy(python, { allow: [], deny: ['rich.text'] }),
    (error: InstallError) => error.code === 'package_not_allowed' && error.message.includes('"Rich_Text"') && error.message.includes('deny list'),
  );
  assert.throws(
    () => checkPolicy(python, { allow: ['rich-text', 'httpx'], deny: ['httpx'] }),
    (error: InstallError) => error.code === 'package_not_allowed' && error.message.includes('"httpx"') && error.message.includes('deny list'),
  );
  assert.throws(
    () => checkPolicy(python, { allow: ['rich-text'], deny: [] }),
    (error: InstallError) => error.code === 'package_not_allowed' && error.message.includes('"httpx"') && error.message.includes('not on the allow list'),
  );
  const node = parsePackageSpecs('node', ['@types/node@20', 'cheerio']);
  checkPolicy(node, { allow: ['@types/node', 'cheerio'], deny: ['lodash'] });
  assert.throws(() => checkPolicy(node, { allow: [], deny: ['cheerio'] }), (error: InstallError) => error.code === 'package_not_allowed');
  assert.throws(() => checkPolicy(node, { allow: ['@types/node'], deny: [] }), /"cheerio" is not on the allow list/);
});
