'use strict';
// One run of the user's code: compiled as main.js with top-level await and return, run as the program with the
// tools as globals, and its ending reported in a single `done` (docs/protocol.md, "Inside the sandbox").

const path = require('node:path');
const { BRIDGE_FAILURE_EXIT_CODE } = require('./protocol.cjs');
const { writeAllSync } = require('./websocket.cjs');
const { convertResult } = require('./jsonable.cjs');
const { cleanStack, describeError, describeSyntaxError, describeThrown, isPreludeFrame, MAIN_BASENAME } = require('./errors.cjs');
const { ToolCalls, definePreludeGlobals, defineToolFunctions } = require('./namespace.cjs');

/** After `done`, how long the process waits for the daemon to end its sandbox before it exits by itself. */
const HOLD_AFTER_DONE_MS = 10_000;
const EXPERIMENTAL_LOADER_WARNING = 'vm.USE_MAIN_CONTEXT_DEFAULT_LOADER is an experimental feature';

// One run of the user's code: its globals, pending tool calls, result, and the single `done` report.
class Execution {
  // Takes over an open bridge (prelude.cjs opens it first, so the daemon handles the upgrade while this loads).
  constructor(exitProcess, workspaceDir, bridge, bridgeAddress) {
    this.workspaceDir = workspaceDir;
    this.exitProcess = exitProcess;
    this.state = 'waiting'; // waiting → running → finishing → reported
    this.isBodySettled = false;
    this.returnValue = undefined;
    this.explicitResult = undefined;
    this.hasExplicitResult = false;
    this.files = [];
    /** The request's inputs by name, passed to the code as parameters. */
    this.inputs = {};
    this.filename = path.join(workspaceDir, MAIN_BASENAME);
    this.userModule = null;
    this.bridge = bridge;
    this.toolCalls = new ToolCalls(bridge, bridgeAddress, () => this.updateKeepAlive());
  }

  // Dispatches a daemon message: the `run` that starts the code, then `tool_result`s.
  onMessage(message) {
    if (message?.type === 'tool_result') this.toolCalls.settle(message);
    else if (message?.type === 'run' && this.state === 'waiting') this.run(message);
  }

  // Without the bridge nothing can be reported: say why on stderr and stop at once rather than hang.
  onBridgeLost(reason) {
    if (this.state === 'finishing' || this.state === 'reported') return;
    this.state = 'reported';
    process.stderr.write(`runbox: ${reason}\n`);
    this.exitProcess(BRIDGE_FAILURE_EXIT_CODE);
  }

  // Starts the user's code as the program; its completion is reported when the event loop is empty.
  // The sandbox starts outside the workspace: nothing the workspace holds is read before the code arrives.
  run({ code, tools, inputs, installs, resultExpression }) {
    this.state = 'running';
    this.toolCalls.installs = installs ?? null;
    if (typeof code !== 'string') return this.onBridgeLost('the run message has no code');
    try {
      process.chdir(this.workspaceDir);
    } catch (err) {
      return this.onBridgeLost(`cannot enter the workspace ${this.workspaceDir}: ${err.message}`);
    }
    defineToolFunctions(Array.isArray(tools) ? tools : [], this.toolCalls);
    // installOnImport reaches import() only through module hooks: registered for code that has an import.
    if (installs?.onImport === true && /\bimport\b/.test(code)) this.toolCalls.missingPackages(this.filename).hookImports();
    // The request's inputs, as parameters of the function the code runs in (the daemon checked their names).
    this.inputs = typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs) ? inputs : {};
    const inputNames = Object.keys(this.inputs);
    this.updateKeepAlive();
    let program;
    try {
      program = compileProgram(code, this.filename, inputNames, resultExpression);
    } catch (err) {
      const error = err instanceof SyntaxError ? describeSyntaxError(err, this.filename) : describeError(err);
      return this.finish(error);
    }
    process.nextTick(() => this.startBody(program));
  }

  // Calls the compiled code from a fresh stack, so its traceback holds no bridge or stream frames.
  startBody(program) {
    program.apply(this.userModule.exports, Object.values(this.inputs)).then(
      (value) => {
        this.isBodySettled = true;
        this.returnValue = value;
      },
      (err) => this.finish(describeError(err?.code === 'ERR_MODULE_NOT_FOUND' ? this.toolCalls.missingPackages(this.filename).hintUncaught(err) : err)),
    );
  }

  // Does the work that needs no code while the daemon answers the handshake: globals, stdio, warnings, and a
  // first run of what the code's run uses (warm-up.cjs), with the warning hidden before that run can raise it.
  prepare() {
    hidePreludeWarning();
    makeStdioBlocking();
    this.userModule = definePreludeGlobals(this.filename, this.toolCalls, (value, files) => this.setResult(value, files));
    require('./warm-up.cjs').warmUp(() => compileProgram('', this.filename), convertResult);
  }

  // setResult(value, files): the result and the workspace files to return; a later call replaces both.
  setResult(value, files) {
    if (!Array.isArray(files) || !files.every((file) => typeof file === 'string')) {
      const received = describeThrown(files);
      throw new TypeError(`setResult: files must be an array of workspace-relative paths, received ${received}`);
    }
    this.explicitResult = value;
    this.hasExplicitResult = true;
    this.files = files.slice();
  }

  // The socket holds the process open only while waiting for `run` or a tool result, never for idle code.
  updateKeepAlive() {
    this.bridge.keepAlive(this.state === 'waiting' || this.toolCalls.pendingCount > 0);
  }

  // Called when the event loop is empty: the code is finished, or waits on a promise nothing can settle.
  onEventLoopEmpty() {
    if (this.state !== 'running') return;
    if (!this.isBodySettled) {
      const message = 'the code awaited a promise that can never settle';
      return this.finish({ type: 'UnsettledAwait', message, traceback: '' });
    }
    const exitCode = process.exitCode;
    if (typeof exitCode === 'number' && exitCode !== 0) {
      return this.finish({ type: 'ExitCode', message: `process.exitCode = ${exitCode}`, traceback: '' }, exitCode);
    }
    this.finish(null);
  }

  // Called for an error nothing caught; like Node, it ends the program unless the code handles these itself.
  onUncaught(thrown, event) {
    if (this.state === 'waiting') this.onBridgeLost(`prelude failure: ${describeThrown(thrown)}`);
    else if (this.state === 'running' && process.listenerCount(event) <= 1) this.finish(describeError(thrown));
  }

  // Builds the `done` message; a result JSON cannot carry turns into a ResultError rather than vanishing.
  // exitCode: the status the process exits with (1 instead of 0 when the result itself failed), or null if unknown.
  buildDone(error, exitCode) {
    const converted = convertResult(this.hasExplicitResult ? this.explicitResult : this.returnValue);
    const failed = error ?? converted.error;
    const status = Number.isInteger(exitCode) ? (failed !== null && exitCode === 0 ? 1 : exitCode & 0xff) : null;
    return { type: 'done', result: converted.result, files: this.files, error: failed, exitCode: status };
  }

  // Flushes stdout and stderr, sends `done` once, and exits: 0 without error, 1 with one, or the given code.
  finish(error, exitCode = 1) {
    if (this.state !== 'running') return;
    this.state = 'finishing';
    const done = this.buildDone(error, (error ?? null) === null ? 0 : exitCode);
    if (done.error !== null && done.error.type !== 'ExitCode') printUncaught(done.error);
    // Output is written before `done` goes: the daemon ends the execution at `done` (it freezes the sandbox and
    // reads what is left) rather than wait for this process to exit.
    // Then it waits to be frozen (or killed): a process exiting now would be tearing its memory down in the
    // kernel, where no freezer stops it, and the freeze would wait for that.
    Promise.all([flushStream(process.stdout), flushStream(process.stderr)]).then(() => {
      this.bridge.sendLast(done, () => {
        this.state = 'reported';
        setTimeout(() => this.exitProcess(done.exitCode), HOLD_AFTER_DONE_MS);
      });
    });
  }

  // process.exit() from the code (or any exit not started here): report synchronously, as nothing async runs now.
  onProcessExit(code) {
    if (this.state !== 'running') return;
    this.state = 'reported';
    let error = null;
    if (code !== 0) {
      // The frames above the first one outside the prelude and Node are this listener and process.exit itself.
      const frames = new Error().stack.split('\n').slice(1);
      const first = frames.findIndex((line) => !isPreludeFrame(line) && !/[( ]node:/.test(line));
      const traceback = first < 0 ? '' : cleanStack([`process.exit(${code})`, ...frames.slice(first)].join('\n'));
      error = { type: 'ExitCode', message: `process.exit(${code})`, traceback };
    }
    const done = this.buildDone(error, Number(code));
    if (done.error !== null && code === 0) process.exitCode = 1;
    try {
      this.bridge.sendLastSync(done);
    } catch (err) {
      process.stderr.write(`runbox: could not report the end of the code: ${err.message}\n`);
    }
  }
}

// Wraps the code so top-level await and return work, keeping line 1 of the code on line 1 of main.js. A trailing
// expression the daemon found (`resultExpression`, docs/protocol.md "The bridge") becomes `return (<expression>)`;
// should that not compile, the code is compiled as it came, so its own SyntaxError is the one reported.
function compileProgram(code, filename, parameterNames = [], resultExpression = undefined) {
  const returned = returnTrailingExpression(code, resultExpression);
  if (returned !== null) {
    try {
      return compileWrapped(returned.head, returned.body, filename, parameterNames);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
    }
  }
  return compileWrapped('', code, filename, parameterNames);
}

// The code with its trailing expression returned, or null when there is none (or the range is not one):
// `;return (` goes at `start` (the end of the statement before; for the first statement, the wrapper's line,
// `head`) and `)` at `end`, so no line moves and the expression's columns stay where they were.
function returnTrailingExpression(code, range) {
  const { start, end } = range ?? {};
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > code.length) return null;
  const closed = `${code.slice(0, end)})${code.slice(end)}`;
  if (start === 0) return { head: 'return (', body: closed };
  return { head: '', body: `${closed.slice(0, start)};return (${closed.slice(start)}` };
}

// Compiles the code as the body of an async function whose parameters are the inputs.
function compileWrapped(head, code, filename, parameterNames) {
  const vm = require('node:vm');
  const body = code.startsWith('#!') ? `//${code}` : code;
  const script = new vm.Script(`(async function (${parameterNames.join(', ')}) {${head}\n${body}\n})`, {
    filename,
    lineOffset: -1,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return script.runInThisContext();
}

// Silences the one warning the prelude itself causes (the loader behind `import()`), keeping every other.
function hidePreludeWarning() {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    if (typeof warning === 'string' && warning.startsWith(EXPERIMENTAL_LOADER_WARNING)) return;
    return emitWarning.call(this, warning, ...rest);
  };
  Object.defineProperty(process.emitWarning, 'name', { value: 'emitWarning' });
}

// Makes stdout and stderr blocking pipes, as they are for files and terminals, so that output written just
// before process.exit() is not lost; created now, while the daemon answers the handshake, not in the code's time.
function makeStdioBlocking() {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream._type === 'pipe') stream._handle?.setBlocking?.(true);
  }
}

// Resolves once everything written to a stream so far is handed to the kernel.
function flushStream(stream) {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}

// Prints an error that ended the program to stderr, as `node main.js` would (the result carries it too).
function printUncaught(error) {
  const head = `${error.type}: ${error.message}`;
  const text = error.traceback.startsWith(error.type) ? error.traceback : [head, error.traceback].filter(Boolean).join('\n');
  try {
    writeAllSync(2, Buffer.from(`${text}\n`));
  } catch {
    // stderr is gone; the result still carries the error
  }
}

module.exports = { Execution };
