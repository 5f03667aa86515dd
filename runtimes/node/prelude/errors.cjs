'use strict';
// What the daemon is told when the code fails: the `done` error {type, message, traceback} for anything thrown,
// with the prelude's own stack frames and Node's internals removed so a traceback shows the user's lines.

const path = require('node:path');
const util = require('node:util');

/** The folder of the prelude's files (prelude.cjs, install-worker.cjs, prelude/), with a trailing slash. */
const PRELUDE_DIR = path.dirname(__dirname) + path.sep;
/** The same folder as ES modules' frames name it (import-hooks.mjs). */
const PRELUDE_URL = `file://${PRELUDE_DIR}`;
const MAIN_BASENAME = 'main.js';

// True for a stack frame line of the prelude's own files: `at fn (/runbox/node/…)`, `at /runbox/node/…`, or
// `at fn (file:///runbox/node/…)`.
function isPreludeFrame(line) {
  const location = /\(([^()]*)\)$/.exec(line)?.[1] ?? line.replace(/^\s+at (?:async )?/, '');
  return location.startsWith(PRELUDE_DIR) || location.startsWith(PRELUDE_URL);
}

// Drops stack frames of the prelude and of Node's internals, so a traceback shows the user's own lines.
function cleanStack(stack) {
  return stack
    .split('\n')
    .filter((line) => !/^\s+at /.test(line) || !(isPreludeFrame(line) || line.includes('node:internal/')))
    .join('\n');
}

// Says what was thrown in a few words, for messages about values that are not errors.
function describeThrown(value) {
  if (value instanceof Error || util.types.isNativeError(value)) return `${value.name}: ${value.message}`;
  return typeof value === 'string' ? value : util.inspect(value, { depth: 2, breakLength: Infinity });
}

// The error's class name as Python would give it: its own name, else its constructor's (class MyError …).
function errorTypeName(error) {
  const name = typeof error.name === 'string' ? error.name : '';
  if (name !== '' && name !== 'Error') return name;
  const constructorName = error.constructor?.name;
  return typeof constructorName === 'string' && constructorName !== '' ? constructorName : 'Error';
}

// Builds the `done` error for anything the code threw or rejected with, Error or not.
function describeError(thrown) {
  try {
    if (!(thrown instanceof Error || util.types.isNativeError(thrown))) {
      return { type: 'Error', message: describeThrown(thrown), traceback: '' };
    }
    const traceback = typeof thrown.stack === 'string' ? cleanStack(thrown.stack) : '';
    return { type: errorTypeName(thrown), message: String(thrown.message), traceback };
  } catch {
    return { type: 'Error', message: 'the code threw a value that cannot be described', traceback: '' };
  }
}

// Builds the `done` error for code that does not compile, with the user's line in the message too.
function describeSyntaxError(error, filename) {
  const stack = typeof error.stack === 'string' ? error.stack : '';
  const header = stack.slice(0, stack.search(/\n\s+at /) >>> 0);
  const line = new RegExp(`^${filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)\\n`).exec(header)?.[1];
  let message = String(error.message) + (line ? ` (${MAIN_BASENAME}, line ${line})` : '');
  if (/Cannot use import statement|Unexpected token 'export'/.test(message)) {
    message += ': the code runs as a script; use `await import("…")` or `require("…")`';
  }
  return { type: errorTypeName(error), message, traceback: header };
}

module.exports = { cleanStack, describeThrown, describeError, describeSyntaxError, isPreludeFrame, MAIN_BASENAME };
