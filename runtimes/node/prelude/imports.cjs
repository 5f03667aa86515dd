'use strict';
// A package the code's own require() or import() cannot find: its error says how to install it, or why it cannot
// be installed here; with the operator's installOnImport, it is installed instead and the caller tries again
// (docs/protocol.md, "Missing modules"). Loaded only when such an error happens, or when import() is hooked. Only
// bare package names are concerned ('lodash/fp' names lodash, '@scope/pkg/sub' @scope/pkg); relative and absolute
// paths, URLs, `node:` and built-in modules, and a missing file of a package that is installed never are.

const fs = require('node:fs');
const path = require('node:path');

const IMPORT_HOOKS_FILENAME = path.join(__dirname, '..', 'import-hooks.mjs');

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

// Appends ` (note)` to the first line of an error's message and of its stack; returns the error.
function appendNote(error, note) {
  const message = String(error.message);
  const firstLine = message.split('\n', 1)[0];
  const noted = `${firstLine} (${note})`;
  const stack = error.stack;
  error.message = noted + message.slice(firstLine.length);
  if (typeof stack === 'string') error.stack = stack.replace(firstLine, noted);
  return error;
}

// The packages one run of the code could not find: hints, and with installOnImport one install per name
// (`install(packages)` is the blocking installPackage), for require() here and for import() through module hooks.
class MissingPackages {
  constructor(fromFilename, installs, install) {
    this.fromFilename = fromFilename;
    this.installs = installs;
    this.install = install;
    /** Why installing each package on import failed (null: it was installed), by name. */
    this.failures = new Map();
    /** True once the module hooks of import() are registered (hookImports). */
    this.importsHooked = false;
  }

  // A package the code's own require() cannot find: true when installOnImport has just installed it and the
  // resolution is to be tried again; otherwise the error gets the install hint, or why the install failed.
  retryRequire(error, specifier) {
    const outcome = this.outcome(specifier, true);
    if (outcome?.note !== undefined) appendNote(error, outcome.note);
    return outcome?.retry === true;
  }

  // An error that ended the code: a package its uncaught import() did not find gets the install hint (the module
  // hooks, when registered, noted it already). Nothing is installed this late.
  hintUncaught(error) {
    if (this.importsHooked) return error;
    const specifier = importedSpecifier(error, this.fromFilename);
    const outcome = specifier === null ? null : this.outcome(specifier, false);
    return outcome?.note === undefined ? error : appendNote(error, outcome.note);
  }

  // installOnImport for import(): registers the module hooks (import-hooks.mjs), which hand each bare package an
  // import() of the code cannot find to this thread, to install as for require(). Node's hooks thread takes tens
  // of ms to start, so the prelude registers them only for code that has an import.
  hookImports() {
    const { register } = require('node:module');
    const { MessageChannel } = require('node:worker_threads');
    const { pathToFileURL } = require('node:url');
    const { port1, port2 } = new MessageChannel();
    port1.on('message', ({ id, specifier }) => port1.postMessage({ id, outcome: this.outcome(String(specifier), true) }));
    port1.unref(); // the code's pending import() holds the process, never this channel
    const data = { port: port2, mainUrl: pathToFileURL(this.fromFilename).href };
    try {
      register(pathToFileURL(IMPORT_HOOKS_FILENAME), { data, transferList: [port2] });
    } catch (error) {
      // Without the hooks thread, import() keeps the install hint; the code is told once, on stderr.
      process.stderr.write(`runbox: installOnImport cannot reach import(): ${error?.message ?? String(error)}\n`);
      port1.close();
      return;
    }
    this.importsHooked = true;
  }

  // What a missing module calls for: null (no package to help with), `{retry: true}` once installOnImport
  // installed its package (when `mayInstall`), or `{note}` for the error: the hint, or why the install failed.
  outcome(specifier, mayInstall) {
    const name = packageOf(specifier);
    if (name === null || isInstalled(name, this.fromFilename)) return null;
    if (this.installs?.onImport !== true || !mayInstall) return { note: installHint(name, this.installs) };
    if (!this.failures.has(name)) this.failures.set(name, this.installOnce(name));
    const failure = this.failures.get(name);
    return failure === null ? { retry: true } : { note: failure };
  }

  // Installs a package as installPackage would: null, or why it failed (the daemon's or the installer's reason).
  installOnce(name) {
    try {
      this.install([name]);
      return null;
    } catch (error) {
      return `installing ${name} for it failed: ${error?.message ?? String(error)}`;
    }
  }
}

// The bare specifier an import() error names when the code's own file imported it, else null.
function importedSpecifier(error, fromFilename) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || typeof error.message !== 'string') return null;
  const match = /^Cannot find (?:package|module) '([^']+)' imported from (.*)$/.exec(error.message.split('\n', 1)[0]);
  return match && match[2] === fromFilename ? match[1] : null;
}

module.exports = { MissingPackages, appendNote, packageOf };
