// Pure: the `inputs` of an execution request, JSON values the code reads as variables of those names (Python
// globals of its module; Node parameters of the function its code runs in). A name must be usable as a
// variable in both languages and must not hide what the preludes give the code.
import { describeReceived, WireError } from '../errors.js';
import type { ToolDeclaration } from '../wire-types.js';

/** Most inputs one request may carry. */
export const MAX_INPUTS = 256;

const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Keywords of Python and reserved words of JavaScript, and names either treats specially. */
const RESERVED_NAMES = new Set(
  ('False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield ' +
    'case catch const debugger default delete do enum export extends false function instanceof let new null ' +
    'package private protected public static super switch this throw true typeof var void implements interface ' +
    'arguments eval undefined NaN Infinity ' +
    // What the preludes bind: their functions and classes in both spellings, and Node's CommonJS names.
    'call_tool call_tools_parallel set_result install_package callTool callToolsParallel setResult installPackage ' +
    'search_tools describe_tool searchTools describeTool ' +
    'ToolError InstallError require module exports').split(' '),
);

// The request's inputs, checked: an object whose keys are usable variable names in both runtimes, none of them a
// declared tool. Its values are JSON already (the request was parsed from it).
export function parseInputs(raw: unknown, tools: readonly ToolDeclaration[]): Readonly<Record<string, unknown>> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new WireError('invalid_request', `inputs: expected an object of named JSON values, received ${describeReceived(raw)}`);
  const names = Object.keys(raw);
  if (names.length > MAX_INPUTS) throw new WireError('invalid_request', `inputs: ${names.length} inputs; at most ${MAX_INPUTS}`);
  for (const name of names) {
    const where = `inputs.${name.slice(0, 64)}`;
    if (!INPUT_NAME.test(name)) {
      throw new WireError('invalid_request', `${where}: an input's name must be 1-64 characters of [A-Za-z0-9_] not starting with a digit, received ${describeReceived(name)}`);
    }
    if (name.startsWith('__')) throw new WireError('invalid_request', `${where}: names starting with "__" are kept for the interpreters`);
    if (RESERVED_NAMES.has(name)) throw new WireError('invalid_request', `${where}: "${name}" is a reserved word or a name the prelude binds (call_tool, setResult, require, ...)`);
    if (tools.some((tool) => tool.name === name)) throw new WireError('invalid_request', `${where}: "${name}" is also a declared tool; rename one of them`);
  }
  return Object.freeze({ ...(raw as Record<string, unknown>) });
}
