// Which tool names become functions in the sandbox, by the preludes' own rules (docs/protocol.md, "Inside the
// sandbox"), and how stubs name a tool's models. Pure: the lists are fixed here, so stubs are the same wherever
// they are built; test/sdk/stubs.test.ts checks them against what the real preludes bind.

const PYTHON_KEYWORDS = new Set(
  ('False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield').split(' '),
);

/** Python 3.11's builtins: a tool of one of these names is not bound (it would shadow `print`, `open`...). */
const PYTHON_BUILTINS = new Set(
  ('ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError BrokenPipeError ' +
    'BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError ConnectionRefusedError ' +
    'ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception ' +
    'ExceptionGroup FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError ' +
    'ImportError ImportWarning IndentationError IndexError InterruptedError IsADirectoryError KeyError ' +
    'KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError NotADirectoryError NotImplemented ' +
    'NotImplementedError OSError OverflowError PendingDeprecationWarning PermissionError ProcessLookupError ' +
    'RecursionError ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration ' +
    'SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError TypeError UnboundLocalError ' +
    'UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning ' +
    'ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin bool breakpoint bytearray bytes ' +
    'callable chr classmethod compile complex copyright credits delattr dict dir divmod enumerate eval exec exit ' +
    'filter float format frozenset getattr globals hasattr hash help hex id input int isinstance issubclass iter ' +
    'len license list locals map max memoryview min next object oct open ord pow print property quit range repr ' +
    'reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip').split(' '),
);

const PYTHON_PRELUDE_NAMES = new Set(['call_tool', 'call_tools_parallel', 'set_result', 'ToolError', 'install_package', 'InstallError', 'search_tools', 'describe_tool']);

const NODE_RESERVED_WORDS = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally ' +
    'for function if import in instanceof new null return super switch this throw true try typeof var void ' +
    'while with yield let static implements interface package private protected public await async arguments ' +
    'eval undefined NaN Infinity').split(' '),
);

/** What `name in globalThis` is true for in the sandbox's Node 20 (own and inherited properties), plus the
 * CommonJS names the code's function takes as parameters (they would hide a global of that name). */
const NODE_GLOBALS = new Set(
  ('AbortController AbortSignal AggregateError Array ArrayBuffer Atomics BigInt BigInt64Array BigUint64Array Blob ' +
    'Boolean BroadcastChannel Buffer ByteLengthQueuingStrategy CompressionStream CountQueuingStrategy Crypto ' +
    'CryptoKey CustomEvent DOMException DataView Date DecompressionStream Error EvalError Event EventTarget File ' +
    'FinalizationRegistry Float32Array Float64Array FormData Function Headers Int16Array Int32Array Int8Array Intl ' +
    'JSON Map Math MessageChannel MessageEvent MessagePort Number Object Performance PerformanceEntry ' +
    'PerformanceMark PerformanceMeasure PerformanceObserver PerformanceObserverEntryList PerformanceResourceTiming ' +
    'Promise Proxy RangeError ReadableByteStreamController ReadableStream ReadableStreamBYOBReader ' +
    'ReadableStreamBYOBRequest ReadableStreamDefaultController ReadableStreamDefaultReader ReferenceError Reflect ' +
    'RegExp Request Response Set SharedArrayBuffer String SubtleCrypto Symbol SyntaxError TextDecoder ' +
    'TextDecoderStream TextEncoder TextEncoderStream TransformStream TransformStreamDefaultController TypeError ' +
    'URIError URL URLSearchParams Uint16Array Uint32Array Uint8Array Uint8ClampedArray WeakMap WeakRef WeakSet ' +
    'WebAssembly WritableStream WritableStreamDefaultController WritableStreamDefaultWriter __defineGetter__ ' +
    '__defineSetter__ __lookupGetter__ __lookupSetter__ __proto__ atob btoa clearImmediate clearInterval ' +
    'clearTimeout console constructor crypto decodeURI decodeURIComponent encodeURI encodeURIComponent escape ' +
    'fetch global globalThis hasOwnProperty isFinite isNaN isPrototypeOf parseFloat parseInt performance process ' +
    'propertyIsEnumerable queueMicrotask setImmediate setInterval setTimeout structuredClone toLocaleString ' +
    'toString unescape valueOf require module exports __filename __dirname').split(' '),
);

const NODE_PRELUDE_NAMES = new Set(['callTool', 'callToolsParallel', 'setResult', 'ToolError', 'installPackage', 'InstallError', 'searchTools', 'describeTool']);

const PYTHON_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NODE_IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

// Whether a name can be written as a Python name (an attribute, a keyword argument): an identifier, not a keyword.
export function isPythonName(name: string): boolean {
  return PYTHON_IDENTIFIER.test(name) && !PYTHON_KEYWORDS.has(name);
}

// Whether the Python prelude gives this tool a function of its name (else the code uses call_tool).
export function isPythonToolFunction(name: string): boolean {
  if (!isPythonName(name) || PYTHON_BUILTINS.has(name) || PYTHON_PRELUDE_NAMES.has(name)) return false;
  return !(name.startsWith('__') && name.endsWith('__'));
}

// Whether the Node prelude gives this tool a global function of its name (else the code uses callTool).
export function isNodeToolFunction(name: string): boolean {
  return NODE_IDENTIFIER.test(name) && !NODE_RESERVED_WORDS.has(name) && !NODE_PRELUDE_NAMES.has(name) && !NODE_GLOBALS.has(name);
}

// Whether a name can be written as a TypeScript property name without quotes.
export function isTypeScriptName(name: string): boolean {
  return NODE_IDENTIFIER.test(name);
}

// A tool or definition name as a model name: `get_user` → `GetUser`, `search.docs` → `SearchDocs`
// (the names `from tools.api import ...` gives in Python).
export function pascalCase(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((word) => word !== '');
  const joined = words.map((word) => word[0].toUpperCase() + word.slice(1)).join('');
  if (joined === '') return 'Model';
  return /^[0-9]/.test(joined) ? `M${joined}` : joined;
}
