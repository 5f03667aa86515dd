'use strict';
// A package the code's own require() or import() cannot find: its error says how to install it, or why it cannot
// be installed here (docs/protocol.md, "Inside the sandbox"). Loaded only when such an error happens. Only bare
// package names get a hint ('lodash/fp' names lodash, '@scope/pkg/sub' @scope/pkg); relative and absolute paths,
// URLs, `node:` and built-in modules, and a missing file of a package that is installed get none.

const fs = require('node:fs');
const path = require('node:path');

// The daemon's rule for npm names (daemon/packages/specs.ts): nothing else is ever suggested.
const NPM_NAME = /^(?:@[a-z0-9-][a-z0-9._-]*\/)?[a-z0-9-][a-z0-9._-]*$/;
const TARBALL_SUFFIX = /\.(?:tgz|tar|tar\.gz)$/i;
const RESERVED_NAMES = new Set(['node_modules', 'favicon.ico']);

// The package a bare specifier names, or null when it names a path, a URL, a built-in or no valid package.
function packageOf(specifier) {
  if (typeof specifier !== 'string' || /^[./\\]|[:\\]/.test(specifier)) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (!NPM_NAME.test(name) || name.startsWith('-') || TARBALL_SUFFIX.test(name) || RESERVED_NAMES.has(name)) return null;
  if (require('node:module').isBuiltin(name)) return null;
  return name;
}

// True when the package is installed where the code's require looks (then a missing file inside it needs no install).
function isInstalled(name, fromFilename) {
  const { Module } = require('node:module');
  const directories = Module._nodeModulePaths?.(path.dirname(fromFilename)) ?? [];
  return directories.some((directory) => fs.existsSync(path.join(directory, name, 'package.json')));
}

// Why the daemon's allow or deny list would refuse the package, or null (npm names compare as they are).
function policyRefusal(name, installs) {
  const listed = (key) => Array.isArray(installs[key]) && installs[key].some((entry) => typeof entry === 'string' && entry.trim() === name);
  if (listed('deny')) return `the package ${name} is on the deny list of this daemon`;
  if (Array.isArray(installs.allow) && installs.allow.length > 0 && !listed('allow')) return `the package ${name} is not on the allow list of this daemon`;
  return null;
}

// The hint for a missing package: `install it with installPackage("x")`, or why that would be refused.
function installHint(name, installs) {
  if (installs === null || typeof installs !== 'object') return 'this daemon does not install packages';
  const refusal = policyRefusal(name, installs);
  return refusal === null ? `install it with installPackage(${JSON.stringify(name)})` : `${refusal}, so it cannot be installed here`;
}

// Adds the hint to a MODULE_NOT_FOUND (require) or ERR_MODULE_NOT_FOUND (import()) error of the code's own, in its
// message and the first line of its stack; returns the error.
function addInstallHint(error, specifier, fromFilename, installs) {
  const name = packageOf(specifier);
  if (name === null || isInstalled(name, fromFilename)) return error;
  const message = String(error.message);
  const firstLine = message.split('\n', 1)[0];
  const hinted = `${firstLine} (${installHint(name, installs)})`;
  const stack = error.stack;
  error.message = hinted + message.slice(firstLine.length);
  if (typeof stack === 'string') error.stack = stack.replace(firstLine, hinted);
  return error;
}

// The bare specifier an import() error names when the code's own file imported it, else null.
function importedSpecifier(error, fromFilename) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || typeof error.message !== 'string') return null;
  const match = /^Cannot find (?:package|module) '([^']+)' imported from (.*)$/.exec(error.message.split('\n', 1)[0]);
  return match && match[2] === fromFilename ? match[1] : null;
}

module.exports = { addInstallHint, importedSpecifier, packageOf };
