'use strict';
// The Runbox Node prelude. The daemon starts it inside the sandbox (`node /runbox/node/prelude.cjs`, cwd `/`,
// entering the workspace only when the code arrives); it connects back over the bridge (docs/protocol.md, "The bridge: prelude ↔ daemon"), receives
// the code in a `run` message, runs it as the user's program with the tools as globals, and sends one `done`.
// Built-in modules only, and as few as possible: every execution pays for what this file loads at start-up.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const { isUtf8 } = require('node:buffer');

const PRELUDE_FILENAME = __filename;
// The protocol's limits and constants, shared with the daemon, the SDK and the Python prelude (runtimes/protocol.json).
const PROTOCOL = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'protocol.json'), 'utf8'));
const BRIDGE_FAILURE_EXIT_CODE = PROTOCOL.bridgeFailureExitCode; // EX_SOFTWARE: the bridge failed, so the code could not run or report
const MAIN_BASENAME = 'main.js';
// RFC 6455's sample key and its accept value. The key only has to be well formed; a fixed pair saves loading
// node:crypto at start-up, and this channel is a private Unix socket that never crosses a proxy or a cache.
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
const MAX_HANDSHAKE_BYTES = PROTOCOL.maxHandshakeBytes;
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_DEPTH = PROTOCOL.maxJsonDepth; // objects and arrays nested deeper are refused with a ResultError, as docs/protocol.md says
const PRELUDE_GLOBALS = ['callTool', 'callToolsParallel', 'setResult', 'ToolError', 'installPackage', 'InstallError'];
const INSTALL_TOOL = PROTOCOL.installTool; // the daemon's reserved tool that installs packages
const INSTALL_WORKER_FILENAME = path.join(__dirname, 'install-worker.cjs');
const RESERVED_WORDS = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally ' +
    'for function if import in instanceof new null return super switch this throw true try typeof var void ' +
    'while with yield let static implements interface package private protected public await async arguments ' +
    'eval undefined NaN Infinity').split(' '),
);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const EXPERIMENTAL_LOADER_WARNING = 'vm.USE_MAIN_CONTEXT_DEFAULT_LOADER is an experimental feature';

// ─── Bridge: a minimal RFC 6455 client over the Unix socket ──────────────────────────────────────────────

// Builds one masked client frame; the all-zero mask key leaves the payload as it is (allowed by protocol.md).
function encodeFrame(opcode, payload) {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerLength = 2 + lengthBytes + 4;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.fill(0, headerLength - 4, headerLength);
  payload.copy(frame, headerLength);
  return frame;
}

// Removes a mask the daemon should not send (servers never mask), so a standard-breaking peer still works.
function unmask(payload, maskKey) {
  const clear = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) clear[i] = payload[i] ^ maskKey[i & 3];
  return clear;
}

// Writes a whole buffer to a file descriptor synchronously, for the one moment nothing asynchronous may run.
function writeAllSync(fd, data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

// The WebSocket client end of the bridge, by hand over node:net: Node 20 has no WebSocket client for Unix sockets.
class Bridge {
  constructor(socketPath, token, { onConnected, onMessage, onLost, route = '/bridge' }) {
    this.onMessage = onMessage;
    this.onLost = onLost;
    this.isOpen = false;
    this.isLost = false;
    this.chunks = [];
    this.bufferedBytes = 0;
    this.neededBytes = 1;
    this.fragments = null;
    this.outgoing = [];
    this.socket = net.connect({ path: socketPath }, () => {
      this.socket.write(
        `GET ${route} HTTP/1.1\r\nHost: runbox\r\n` +
          `Authorization: Bearer ${token}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      onConnected();
    });
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (err) => this.lose(`the bridge failed: ${err.message}`));
    this.socket.on('close', () => this.lose('the daemon closed the bridge'));
  }

  // Collects bytes until the handshake or the next whole frame is in, so big messages are joined only once.
  receive(chunk) {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes < this.neededBytes || this.isLost) return;
    const buffer = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.bufferedBytes);
    let offset = this.isOpen ? 0 : this.readHandshake(buffer);
    if (offset < 0) {
      this.chunks = [buffer];
      return;
    }
    offset = this.readFrames(buffer, offset);
    const rest = buffer.subarray(offset);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
  }

  // Checks the HTTP answer to the upgrade; returns where the frames start, or -1 while it is incomplete.
  readHandshake(buffer) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffer.length > MAX_HANDSHAKE_BYTES) this.lose('the bridge handshake answer is too long');
      this.neededBytes = buffer.length + 1;
      return -1;
    }
    const [statusLine, ...headerLines] = buffer.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
    const accept = headerLines.find((line) => /^sec-websocket-accept:/i.test(line));
    let failure = null;
    if (status === '401') failure = `the daemon refused the bridge token (${statusLine})`;
    else if (status !== '101') failure = `the bridge handshake failed: ${statusLine}`;
    else if (accept?.slice(accept.indexOf(':') + 1).trim() !== WS_ACCEPT) {
      failure = 'the bridge handshake failed: wrong Sec-WebSocket-Accept';
    }
    if (failure !== null) {
      this.lose(failure);
      return -1;
    }
    this.isOpen = true;
    this.neededBytes = 2;
    return end + 4;
  }

  // Reads every complete frame from offset on; returns the offset of the first incomplete one.
  readFrames(buffer, offset) {
    while (!this.isLost) {
      const available = buffer.length - offset;
      let headerLength = 2;
      if (available < headerLength) break;
      const first = buffer[offset];
      const second = buffer[offset + 1];
      let length = second & 0x7f;
      if (length === 126) headerLength = 4;
      else if (length === 127) headerLength = 10;
      if (second & 0x80) headerLength += 4;
      if (available < headerLength) {
        this.neededBytes = headerLength;
        return offset;
      }
      if (length === 126) length = buffer.readUInt16BE(offset + 2);
      else if (length === 127) length = buffer.readUInt32BE(offset + 2) * 2 ** 32 + buffer.readUInt32BE(offset + 6);
      if (available < headerLength + length) {
        this.neededBytes = headerLength + length;
        return offset;
      }
      let payload = buffer.subarray(offset + headerLength, offset + headerLength + length);
      if (second & 0x80) payload = unmask(payload, buffer.subarray(offset + headerLength - 4, offset + headerLength));
      offset += headerLength + length;
      this.handleFrame((first & 0x80) !== 0, first & 0x0f, payload);
    }
    this.neededBytes = 2;
    return offset;
  }

  // Acts on one frame: data frames (possibly fragmented) become messages; ping gets pong; close ends the bridge.
  handleFrame(isFinal, opcode, payload) {
    if (opcode === OPCODE.text || opcode === OPCODE.binary) {
      if (isFinal) this.deliver(payload);
      else this.fragments = [payload];
    } else if (opcode === OPCODE.continuation) {
      if (this.fragments === null) return this.lose('bridge protocol error: a continuation frame with no start');
      this.fragments.push(payload);
      if (isFinal) {
        const message = Buffer.concat(this.fragments);
        this.fragments = null;
        this.deliver(message);
      }
    } else if (opcode === OPCODE.ping) {
      this.queueFrame(encodeFrame(OPCODE.pong, payload));
    } else if (opcode === OPCODE.close) {
      this.socket.end(encodeFrame(OPCODE.close, payload.subarray(0, 2)));
      const closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      const why = payload.length > 2 ? `: ${payload.toString('utf8', 2)}` : '';
      this.lose(`the daemon closed the bridge${closeCode === null ? '' : ` (${closeCode}${why})`}`);
    } else if (opcode !== OPCODE.pong) {
      this.lose(`bridge protocol error: unknown opcode ${opcode}`);
    }
  }

  // Parses one JSON message and hands it on; a message that is not JSON is a daemon bug, said on stderr.
  deliver(payload) {
    let message;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      process.stderr.write('runbox: ignored a bridge message that is not JSON\n');
      return;
    }
    this.onMessage(message);
  }

  // Sends a message; frames sent in the same tick go out in one write (1,000 parallel tool calls, one syscall).
  send(message) {
    this.queueFrame(encodeFrame(OPCODE.text, Buffer.from(JSON.stringify(message))));
  }

  // Queues a frame and schedules the flush of this tick's frames.
  queueFrame(frame) {
    this.outgoing.push(frame);
    if (this.outgoing.length === 1) process.nextTick(() => this.flush());
  }

  // Writes the queued frames; onWritten runs once they are handed to the kernel (or the socket failed).
  flush(onWritten) {
    if (this.outgoing.length === 0) {
      if (onWritten) onWritten();
      return;
    }
    const data = this.outgoing.length === 1 ? this.outgoing[0] : Buffer.concat(this.outgoing);
    this.outgoing = [];
    this.socket.write(data, onWritten);
  }

  // Sends a last message and calls back once it is written: at once when the kernel took every byte.
  sendLast(message, onWritten) {
    this.send(message);
    let isCalled = false;
    const callOnce = () => {
      if (isCalled) return;
      isCalled = true;
      onWritten();
    };
    this.flush(callOnce);
    if (this.socket._handle?.writeQueueSize === 0) callOnce();
  }

  // Sends a last message synchronously (from process 'exit'), behind anything libuv has not written yet.
  sendLastSync(message) {
    this.send(message);
    const data = Buffer.concat(this.outgoing);
    this.outgoing = [];
    const handle = this.socket._handle;
    if (handle && handle.writeQueueSize === 0 && handle.fd >= 0) {
      handle.setBlocking?.(true);
      writeAllSync(handle.fd, data);
    } else {
      this.socket.write(data); // libuv still holds earlier bytes: best effort, they must go first
    }
  }

  // Lets the socket keep the process alive only while the prelude waits for the daemon.
  keepAlive(isNeeded) {
    if (isNeeded) this.socket.ref();
    else this.socket.unref();
  }

  // Reports the loss of the bridge once.
  lose(reason) {
    if (this.isLost) return;
    this.isLost = true;
    this.onLost(reason);
  }
}

// ─── Values: what the code returns and passes to tools, as JSON ──────────────────────────────────────────

// A value that cannot become JSON (a cycle, a throwing getter); reversedPath says where, innermost key first.
class ConversionError extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
    this.reversedPath = [];
  }

  // Names the place the conversion failed, from the given root name.
  describe(root) {
    let where = root;
    for (const key of this.reversedPath.slice().reverse()) {
      where += typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
    return `${where}: ${this.reason}`;
  }
}

// Says where and why a conversion failed, for any error (a RangeError from a too deep value, for one).
function describeFailure(err, root) {
  return err instanceof ConversionError ? err.describe(root) : `${root}: ${describeThrown(err)}`;
}

// Bytes become UTF-8 text when they are valid UTF-8, base64 otherwise, as docs/protocol.md says.
function bytesToJson(bytes) {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('base64');
}

// Converts a value into plain JSON data so that no result is lost for its type (table in the reply / protocol.md).
function toJsonValue(value, ancestors = new Set()) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value >= -MAX_SAFE_BIGINT && value <= MAX_SAFE_BIGINT ? Number(value) : String(value);
    case 'undefined':
      return null;
    case 'function':
    case 'symbol':
      return String(value);
  }
  if (value === null) return null;
  if (ancestors.has(value)) throw new ConversionError('it contains a circular reference');
  if (ancestors.size >= MAX_DEPTH) throw new ConversionError(`it nests deeper than ${MAX_DEPTH} levels`);
  ancestors.add(value);
  try {
    return objectToJson(value, ancestors);
  } catch (err) {
    throw err instanceof ConversionError ? err : new ConversionError(`converting it threw ${describeThrown(err)}`);
  } finally {
    ancestors.delete(value);
  }
}

// Adds a member's key to a conversion failure on its way out (any error thrown by a getter becomes one).
function conversionFailure(err, key) {
  const failure = err instanceof ConversionError ? err : new ConversionError(`reading it threw ${describeThrown(err)}`);
  failure.reversedPath.push(key);
  return failure;
}

// Converts one member, recording its key on the way out when the conversion fails.
function memberToJson(value, key, ancestors) {
  try {
    return toJsonValue(value, ancestors);
  } catch (err) {
    throw conversionFailure(err, key);
  }
}

// Reads and converts one property of an object; undefined properties are left out, as JSON.stringify does.
function propertyToJson(object, key, ancestors) {
  let item;
  try {
    item = object[key];
  } catch (err) {
    throw conversionFailure(err, key);
  }
  return item === undefined ? undefined : memberToJson(item, key, ancestors);
}

// Converts an object by its kind: bytes, typed arrays, arrays, Map, Set, Date, RegExp, Error, toJSON, plain.
function objectToJson(value, ancestors) {
  const types = util.types;
  if (Buffer.isBuffer(value)) return bytesToJson(value);
  if (types.isAnyArrayBuffer(value)) return bytesToJson(Buffer.from(value));
  if (types.isDataView(value)) return bytesToJson(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  if (Array.isArray(value) || types.isTypedArray(value)) {
    const items = new Array(value.length);
    for (let i = 0; i < value.length; i++) items[i] = memberToJson(value[i], i, ancestors);
    return items;
  }
  if (types.isMap(value)) {
    const object = Object.create(null);
    for (const [key, item] of value) {
      const name = typeof key === 'object' && key !== null ? JSON.stringify(toJsonValue(key, ancestors)) : String(key);
      object[name] = memberToJson(item, name, ancestors);
    }
    return object;
  }
  if (types.isSet(value)) return Array.from(value, (item, i) => memberToJson(item, i, ancestors));
  if (types.isDate(value)) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (types.isRegExp(value) || types.isPromise(value) || types.isWeakMap(value) || types.isWeakSet(value)) {
    return String(value);
  }
  if (types.isBoxedPrimitive(value)) return toJsonValue(value.valueOf(), ancestors);
  if (types.isNativeError(value) || value instanceof Error) {
    return { name: String(value.name), message: String(value.message) };
  }
  if (typeof value.toJSON === 'function') return memberToJson(value.toJSON(), 'toJSON()', ancestors);
  const object = Object.create(null);
  for (const key of Object.keys(value)) {
    const item = propertyToJson(value, key, ancestors);
    if (item !== undefined) object[key] = item;
  }
  return object;
}

// ─── Errors: what the daemon is told when the code fails ─────────────────────────────────────────────────

// Drops stack frames of the prelude and of Node's internals, so a traceback shows the user's own lines.
function cleanStack(stack) {
  return stack
    .split('\n')
    .filter((line) => !/^\s+at /.test(line) || !(line.includes(PRELUDE_FILENAME) || line.includes('node:internal/')))
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

// ─── The execution ───────────────────────────────────────────────────────────────────────────────────────

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

// Wraps the code so top-level await and return work, keeping line 1 of the code on line 1 of main.js.
function compileProgram(code, filename) {
  const vm = require('node:vm');
  const body = code.startsWith('#!') ? `//${code}` : code;
  const script = new vm.Script(`(async function () {\n${body}\n})`, {
    filename,
    lineOffset: -1,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return script.runInThisContext();
}

// Makes the CommonJS pieces a script expects (require, module, …), resolving from the workspace.
function createUserModule(filename) {
  const { Module, createRequire } = require('node:module');
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

// One run of the user's code: its globals, pending tool calls, result, and the single `done` report.
class Execution {
  constructor(exitProcess, workspaceDir) {
    this.workspaceDir = workspaceDir;
    this.exitProcess = exitProcess;
    this.state = 'waiting'; // waiting → running → finishing → reported
    this.isBodySettled = false;
    this.returnValue = undefined;
    this.explicitResult = undefined;
    this.hasExplicitResult = false;
    this.files = [];
    this.pendingCalls = new Map();
    this.lastCallId = 0;
    this.filename = path.join(workspaceDir, MAIN_BASENAME);
    this.userModule = null;
    this.bridge = null;
    this.bridgeAddress = null;
    this.lastInstallId = 0;
  }

  // Opens the bridge; the daemon answers the handshake with `run`.
  connect(socketPath, token) {
    this.bridgeAddress = { socketPath, token };
    this.bridge = new Bridge(socketPath, token, {
      onConnected: () => this.prepare(),
      onMessage: (message) => this.onMessage(message),
      onLost: (reason) => this.onBridgeLost(reason),
    });
  }

  // Dispatches a daemon message: the `run` that starts the code, then `tool_result`s.
  onMessage(message) {
    if (message?.type === 'tool_result') this.settleCall(message);
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
  run({ code, tools }) {
    this.state = 'running';
    if (typeof code !== 'string') return this.onBridgeLost('the run message has no code');
    try {
      process.chdir(this.workspaceDir);
    } catch (err) {
      return this.onBridgeLost(`cannot enter the workspace ${this.workspaceDir}: ${err.message}`);
    }
    this.installToolFunctions(Array.isArray(tools) ? tools : []);
    this.updateKeepAlive();
    let program;
    try {
      program = compileProgram(code, this.filename);
    } catch (err) {
      const error = err instanceof SyntaxError ? describeSyntaxError(err, this.filename) : describeError(err);
      return this.finish(error);
    }
    process.nextTick(() => this.startBody(program));
  }

  // Calls the compiled code from a fresh stack, so its traceback holds no bridge or stream frames.
  startBody(program) {
    program.call(this.userModule.exports).then(
      (value) => {
        this.isBodySettled = true;
        this.returnValue = value;
      },
      (err) => this.finish(describeError(err)),
    );
  }

  // Does the work that needs no code while the daemon answers the handshake: globals, stdio, warnings.
  prepare() {
    hidePreludeWarning();
    makeStdioBlocking();
    const { userModule, userRequire } = createUserModule(this.filename);
    this.userModule = userModule;
    const execution = this;
    defineGlobal('require', userRequire);
    defineGlobal('module', userModule);
    defineGlobal('exports', userModule.exports);
    defineGlobal('__filename', this.filename);
    defineGlobal('__dirname', path.dirname(this.filename));
    defineGlobal('callTool', function callTool(name, args) {
      return execution.callTool(name, args);
    });
    defineGlobal('callToolsParallel', function callToolsParallel(calls) {
      return execution.callToolsParallel(calls);
    });
    defineGlobal('setResult', function setResult(value, files = []) {
      execution.setResult(value, files);
    });
    defineGlobal('ToolError', ToolError);
    defineGlobal('installPackage', function installPackage(...packages) {
      return execution.installPackage(packages.flat());
    });
    defineGlobal('InstallError', InstallError);
  }

  // installPackage('cheerio', 'lodash@4'): blocks until the daemon has installed them (so `require` works on the
  // next line), then returns a promise of the answer for code that awaits it; a failure throws InstallError.
  // The main thread cannot read its own bridge while it blocks, so a worker thread asks on a side connection
  // and wakes it through shared memory.
  installPackage(packages) {
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

  // Defines one async function per tool whose name is a usable identifier that shadows nothing.
  installToolFunctions(tools) {
    const execution = this;
    for (const tool of tools) {
      const name = tool?.name;
      if (typeof name !== 'string' || !IDENTIFIER.test(name) || RESERVED_WORDS.has(name)) continue;
      if (PRELUDE_GLOBALS.includes(name) || name in globalThis) continue;
      const properties = tool.parameters?.properties;
      const parameterNames = typeof properties === 'object' && properties !== null ? Object.keys(properties) : [];
      const toolFunction = async function (...args) {
        return await execution.callTool(name, bindToolArguments(name, parameterNames, args));
      };
      Object.defineProperty(toolFunction, 'name', { value: name });
      defineGlobal(name, toolFunction);
    }
  }

  // callTool(name, args): sends a tool_call and resolves with the result, or throws ToolError.
  async callTool(name, args = {}) {
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
    this.updateKeepAlive();
    const { result, error } = await answer;
    if (error !== undefined && error !== null) {
      const message = typeof error === 'string' ? error : String(error.message ?? `the tool ${name} failed`);
      throw new ToolError(message, { code: typeof error.code === 'string' ? error.code : undefined, tool: name });
    }
    return result === undefined ? null : result;
  }

  // Hands a tool_result to the call waiting for it.
  settleCall(message) {
    const resolve = this.pendingCalls.get(String(message.callId));
    if (resolve === undefined) return;
    this.pendingCalls.delete(String(message.callId));
    this.updateKeepAlive();
    resolve(message);
  }

  // callToolsParallel([[name, args], …]): all calls in flight at once, results in order, first error after all.
  async callToolsParallel(calls) {
    if (!Array.isArray(calls) || !calls.every(Array.isArray)) {
      throw new TypeError('callToolsParallel: expected an array of [name, args] pairs');
    }
    const outcomes = await Promise.allSettled(calls.map(([name, args]) => this.callTool(name, args)));
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    return outcomes.map((outcome) => outcome.value);
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
    this.bridge.keepAlive(this.state === 'waiting' || this.pendingCalls.size > 0);
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
  buildDone(error) {
    let result = null;
    try {
      result = toJsonValue(this.hasExplicitResult ? this.explicitResult : this.returnValue);
    } catch (err) {
      const message = `the result cannot be sent: ${describeFailure(err, 'result')}`;
      if (error === null) error = { type: 'ResultError', message, traceback: '' };
    }
    return { type: 'done', result, files: this.files, error };
  }

  // Sends `done` once, flushes stdout and stderr, and exits: 0 without error, 1 with one, or the given code.
  finish(error, exitCode = 1) {
    if (this.state !== 'running') return;
    this.state = 'finishing';
    const done = this.buildDone(error);
    if (done.error !== null && done.error.type !== 'ExitCode') printUncaught(done.error);
    this.bridge.sendLast(done, () => {
      this.state = 'reported';
      Promise.all([flushStream(process.stdout), flushStream(process.stderr)]).then(() => {
        this.exitProcess(done.error === null ? 0 : exitCode);
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
      const first = frames.findIndex((line) => !line.includes(PRELUDE_FILENAME) && !/[( ]node:/.test(line));
      const traceback = first < 0 ? '' : cleanStack([`process.exit(${code})`, ...frames.slice(first)].join('\n'));
      error = { type: 'ExitCode', message: `process.exit(${code})`, traceback };
    }
    const done = this.buildDone(error);
    if (done.error !== null && code === 0) process.exitCode = 1;
    try {
      this.bridge.sendLastSync(done);
    } catch (err) {
      process.stderr.write(`runbox: could not report the end of the code: ${err.message}\n`);
    }
  }
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

// Reads and removes the bridge settings, wires the process events, and connects; the code arrives in `run`.
function main() {
  const socketPath = process.env.RUNBOX_BRIDGE_SOCKET;
  const token = process.env.RUNBOX_BRIDGE_TOKEN;
  const workspaceDir = process.env.RUNBOX_WORKSPACE;
  delete process.env.RUNBOX_BRIDGE_SOCKET;
  delete process.env.RUNBOX_BRIDGE_TOKEN;
  delete process.env.RUNBOX_WORKSPACE;
  delete process.env.RUNBOX_PACKAGES; // installed packages are found through /node_modules
  const exitProcess = process.exit.bind(process);
  if (!socketPath || !token || !workspaceDir || /[\r\n]/.test(token)) {
    process.stderr.write('runbox: RUNBOX_BRIDGE_SOCKET, RUNBOX_BRIDGE_TOKEN and RUNBOX_WORKSPACE must be set by the daemon\n');
    return exitProcess(BRIDGE_FAILURE_EXIT_CODE);
  }
  const execution = new Execution(exitProcess, workspaceDir);
  execution.connect(socketPath, token);
  process.argv[1] = execution.filename;
  process.on('beforeExit', () => execution.onEventLoopEmpty());
  process.on('exit', (code) => execution.onProcessExit(code));
  process.on('uncaughtException', (err) => execution.onUncaught(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => execution.onUncaught(reason, 'unhandledRejection'));
}

if (require.main === module) main();
else module.exports = { Bridge, PROTOCOL };
