'use strict';
// What the code sees (docs/protocol.md, "Inside the sandbox"): the CommonJS pieces a script expects (require,
// module, exports, __filename, __dirname), callTool, callToolsParallel, setResult, ToolError, installPackage,
// InstallError, searchTools, describeTool, and one async function per declared tool; and the tool calls behind them.

const path = require('node:path');
const { INSTALL_TOOL } = require('./protocol.cjs');
const { describeThrown } = require('./errors.cjs');
const { IDENTIFIER, describeFailure, toJsonValue } = require('./jsonable.cjs');

const PRELUDE_GLOBALS = ['callTool', 'callToolsParallel', 'setResult', 'ToolError', 'installPackage', 'InstallError', 'searchTools', 'describeTool'];
const RESERVED_WORDS = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally ' +
    'for function if import in instanceof new null return super switch this throw true try typeof var void ' +
    'while with yield let static implements interface package private protected public await async arguments ' +
    'eval undefined NaN Infinity').split(' '),
);
const INSTALL_WORKER_FILENAME = path.join(__dirname, '..', 'install-worker.cjs');

// A tool's failure, thrown into the code; message is the tool's own, code the daemon's (tool_error, no_client…).
class ToolError extends Error {
  constructor(message, { code, tool } = {}) {
    super(message);
    if (code !== undefined) this.code = code;
    if (tool !== undefined) this.tool = tool;
  }
}
ToolError.prototype.name = 'ToolError';

// installPackage's failure; message is the daemon's or the installer's, code says which kind (install_failed…).
class InstallError extends Error {
  constructor(message, { code } = {}) {
    super(message);
    if (code !== undefined) this.code = code;
  }
}
InstallError.prototype.name = 'InstallError';

// The code's tool calls over the bridge: each waits for its tool_result; onPendingChange runs when their count does.
class ToolCalls {
  constructor(bridge, bridgeAddress, onPendingChange) {
    this.bridge = bridge;
    this.bridgeAddress = bridgeAddress;
    this.onPendingChange = onPendingChange;
    this.pendingCalls = new Map();
    this.lastCallId = 0;
    this.lastInstallId = 0;
    /** The run message's `installs` (null: the daemon installs nothing): the hint of a missing package, or installOnImport. */
    this.installs = null;
    /** The run message's tools, and the name of each one's function (for those that have one): discovery's. */
    this.declaredTools = [];
    this.functionNames = new Map();
    this.missing = null;
  }

  // What happens to packages the code's own require() or import() cannot find (imports.cjs): made once needed.
  missingPackages(fromFilename) {
    if (this.missing === null) {
      const { MissingPackages } = require('./imports.cjs');
      this.missing = new MissingPackages(fromFilename, this.installs, (packages) => this.install(packages));
    }
    return this.missing;
  }

  // The number of calls waiting for their answer.
  get pendingCount() {
    return this.pendingCalls.size;
  }

  // callTool(name, args): sends a tool_call and resolves with the result, or throws ToolError.
  async call(name, args = {}) {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`callTool: name must be a non-empty string, received ${describeThrown(name)}`);
    }
    let jsonArgs;
    try {
      jsonArgs = toJsonValue(args ?? {});
    } catch (err) {
      throw new TypeError(`callTool("${name}"): cannot send the arguments: ${describeFailure(err, 'args')}`);
    }
    if (typeof jsonArgs !== 'object' || jsonArgs === null || Array.isArray(jsonArgs)) {
      const received = describeThrown(args);
      throw new TypeError(`callTool("${name}"): args must be an object of named arguments, received ${received}`);
    }
    const callId = String(++this.lastCallId);
    const answer = new Promise((resolve) => this.pendingCalls.set(callId, resolve));
    this.bridge.send({ type: 'tool_call', callId, name, args: jsonArgs });
    this.onPendingChange();
    const { result, error } = await answer;
    if (error !== undefined && error !== null) {
      const message = typeof error === 'string' ? error : String(error.message ?? `the tool ${name} failed`);
      throw new ToolError(message, { code: typeof error.code === 'string' ? error.code : undefined, tool: name });
    }
    return result === undefined ? null : result;
  }

  // Hands a tool_result to the call waiting for it.
  settle(message) {
    const resolve = this.pendingCalls.get(String(message.callId));
    if (resolve === undefined) return;
    this.pendingCalls.delete(String(message.callId));
    this.onPendingChange();
    resolve(message);
  }

  // callToolsParallel([[name, args], …]): all calls in flight at once, results in order, first error after all.
  async callParallel(calls) {
    if (!Array.isArray(calls) || !calls.every(Array.isArray)) {
      throw new TypeError('callToolsParallel: expected an array of [name, args] pairs');
    }
    const outcomes = await Promise.allSettled(calls.map(([name, args]) => this.call(name, args)));
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    return outcomes.map((outcome) => outcome.value);
  }

  // installPackage('cheerio', 'lodash@4'): blocks until the daemon has installed them (so `require` works on the
  // next line), then returns a promise of the answer for code that awaits it; a failure throws InstallError.
  // The main thread cannot read its own bridge while it blocks, so a worker thread asks on a side connection
  // and wakes it through shared memory.
  install(packages) {
    const { Worker, MessageChannel, receiveMessageOnPort } = require('node:worker_threads');
    const wake = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const callId = `install-${++this.lastInstallId}`;
    const worker = new Worker(INSTALL_WORKER_FILENAME, {
      workerData: { ...this.bridgeAddress, callId, name: INSTALL_TOOL, args: { packages }, port: port2, wake },
      transferList: [port2],
      stdout: true,
      stderr: true,
    });
    Atomics.wait(wake, 0, 0);
    const answer = receiveMessageOnPort(port1)?.message ?? { error: { code: 'install_failed', message: 'the install worker ended without an answer' } };
    port1.close();
    void worker.terminate();
    const { result, error } = answer;
    if (error !== undefined && error !== null) {
      throw new InstallError(String(error.message ?? 'the install failed'), { code: typeof error.code === 'string' ? error.code : undefined });
    }
    return Promise.resolve(result ?? null);
  }
}

// Defines the globals a script and the prelude's API give the code; returns the code's module (require.main).
function definePreludeGlobals(filename, toolCalls, recordResult) {
  const { userModule, userRequire } = createUserModule(filename, toolCalls);
  defineGlobal('require', userRequire);
  defineGlobal('module', userModule);
  defineGlobal('exports', userModule.exports);
  defineGlobal('__filename', filename);
  defineGlobal('__dirname', path.dirname(filename));
  defineGlobal('callTool', function callTool(name, args) {
    return toolCalls.call(name, args);
  });
  defineGlobal('callToolsParallel', function callToolsParallel(calls) {
    return toolCalls.callParallel(calls);
  });
  defineGlobal('setResult', function setResult(value, files = []) {
    recordResult(value, files);
  });
  defineGlobal('ToolError', ToolError);
  defineGlobal('installPackage', function installPackage(...packages) {
    return toolCalls.install(packages.flat());
  });
  defineGlobal('InstallError', InstallError);
  defineDiscoveryGlobals(toolCalls);
  return userModule;
}

// searchTools(query, {limit}) and describeTool(name) over the declared tools (discovery.cjs, loaded on the
// first call); both return their value at once (awaiting it works too).
function defineDiscoveryGlobals(toolCalls) {
  defineGlobal('searchTools', function searchTools(query = '', options = undefined) {
    return require('./discovery.cjs').searchTools(toolCalls.declaredTools, toolCalls.functionNames, query, options);
  });
  defineGlobal('describeTool', function describeTool(name) {
    return require('./discovery.cjs').describeTool(toolCalls.declaredTools, toolCalls.functionNames, name);
  });
}

// Defines one async function per tool whose name is a usable identifier that shadows nothing. A dotted name
// `server.tool` (an MCP server's tool) is also defined as `server__tool` (the first dot becomes `__`, other dots
// and `-` become `_`) when that is usable, no tool has that name and no other tool's alias is the same.
function defineToolFunctions(tools, toolCalls) {
  const usable = (name) =>
    typeof name === 'string' && IDENTIFIER.test(name) && !RESERVED_WORDS.has(name) && !PRELUDE_GLOBALS.includes(name) && !(name in globalThis);
  const declared = new Set(tools.map((tool) => tool?.name));
  const aliases = new Map();
  toolCalls.declaredTools = tools;
  for (const tool of tools) {
    const alias = dottedAlias(tool?.name);
    if (alias !== null) aliases.set(alias, [...(aliases.get(alias) ?? []), tool]);
  }
  const bindings = tools.filter((tool) => usable(tool?.name)).map((tool) => [tool.name, tool]);
  for (const [alias, same] of aliases) {
    if (same.length === 1 && !declared.has(alias) && usable(alias)) bindings.push([alias, same[0]]);
  }
  for (const [functionName, tool] of bindings) {
    const { name } = tool;
    const properties = tool.parameters?.properties;
    const parameterNames = typeof properties === 'object' && properties !== null ? Object.keys(properties) : [];
    const toolFunction = async function (...args) {
      return await toolCalls.call(name, bindToolArguments(name, parameterNames, args));
    };
    Object.defineProperty(toolFunction, 'name', { value: functionName });
    defineGlobal(functionName, toolFunction);
    toolCalls.functionNames.set(name, functionName);
  }
}

// The function name a dotted tool name also gets: `github.search-issues` -> `github__search_issues` (null: no dot).
function dottedAlias(name) {
  if (typeof name !== 'string' || !name.includes('.')) return null;
  const dot = name.indexOf('.');
  return `${name.slice(0, dot)}__${name.slice(dot + 1)}`.replace(/[.-]/g, '_');
}

// Binds a tool function's arguments: one plain object of declared names is the arguments object, else positional.
function bindToolArguments(toolName, parameterNames, args) {
  let count = args.length;
  while (count > 0 && args[count - 1] === undefined) count--;
  if (count === 0) return {};
  const [first] = args;
  const prototype = typeof first === 'object' && first !== null ? Object.getPrototypeOf(first) : undefined;
  const isPlainObject = prototype === Object.prototype || prototype === null;
  const isDeclared = (key) => parameterNames.length === 0 || parameterNames.includes(key);
  if (count === 1 && isPlainObject && Object.keys(first).every(isDeclared)) return first;
  if (count > parameterNames.length) {
    const takes =
      parameterNames.length === 0
        ? 'no positional arguments'
        : `at most ${parameterNames.length} (${parameterNames.join(', ')})`;
    throw new TypeError(`${toolName}() takes ${takes}, received ${count}; or pass one object of named arguments`);
  }
  const bound = {};
  for (let i = 0; i < count; i++) if (args[i] !== undefined) bound[parameterNames[i]] = args[i];
  return bound;
}

// Makes the CommonJS pieces a script expects (require, module, …), resolving from the workspace. A package the
// code's own require does not find gets the install hint in its error, or with installOnImport is installed and
// resolved again (libraries' requires are left alone).
function createUserModule(filename, toolCalls) {
  const { Module, createRequire } = require('node:module');
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function _resolveFilename(request, parent) {
    try {
      return Reflect.apply(resolveFilename, this, arguments);
    } catch (err) {
      if (err?.code !== 'MODULE_NOT_FOUND' || parent?.filename !== filename) throw err;
      if (toolCalls.missingPackages(filename).retryRequire(err, request)) return Reflect.apply(resolveFilename, this, arguments);
      throw err;
    }
  };
  const userModule = new Module(filename, null);
  userModule.filename = filename;
  userModule.paths = Module._nodeModulePaths?.(path.dirname(filename)) ?? [];
  const userRequire = createRequire(filename);
  userRequire.main = userModule;
  userModule.require = userRequire;
  return { userModule, userRequire };
}

// Defines a global the code can read and replace, without showing up in `for (k in globalThis)`.
function defineGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

module.exports = { ToolCalls, ToolError, InstallError, definePreludeGlobals, defineToolFunctions };
