// What a model is told about the code tool: the rules of the sandbox and the stubs of each allowed runtime
// (the description), and the input schema (`code`, and `runtime` when more than one is allowed). Pure.

import type { JsonSchema, Runtime, ToolSet } from '../types.js';
import { pythonStubs } from '../stubs/python.js';
import type { StubOptions } from '../stubs/text.js';
import { typescriptStubs } from '../stubs/typescript.js';
import { describeDiscovery, PYTHON_DISCOVERY_STUBS, TYPESCRIPT_DISCOVERY_STUBS } from './discovery.js';

/** What the description is built from. */
export interface DescriptionParts {
  tools: ToolSet;
  runtimes: readonly Runtime[];
  /** Names of the inputs the code reads as variables (with a JSON type word each). */
  inputs: Record<string, unknown>;
  maxOutputChars: number;
  instructions: string;
  stubs: StubOptions;
  /** Leave the tools' stubs out: list their groups and how to find them from code (search_tools, describe_tool). */
  discovery: boolean;
}

const RUNTIME_TITLES: Record<Runtime, string> = { python: 'Python 3', node: 'Node.js 20 (JavaScript)' };

// The code tool's description: a paragraph of rules per allowed runtime, then that runtime's stubs (with
// discovery: the tool groups and how to find tools, then only the prelude's functions).
export function describeCodeTool(parts: DescriptionParts): string {
  const { runtimes } = parts;
  const both = runtimes.length > 1;
  const lines = [
    `Runs ${runtimes.map((runtime) => RUNTIME_TITLES[runtime]).join(' or ')} code in a sandbox and returns its result, printed output, error and files. ` +
      `Use it to call the tools ${parts.discovery ? '(find them as below)' : 'below'} from code: ` + 'loop, filter and combine their results in one call instead of one tool call each.',
    '',
    'Rules:',
    '- Call tools with await; top-level await works. Run independent calls at once ' +
      `(${runtimes.map((runtime) => (runtime === 'python' ? 'Python: `await asyncio.gather(a(), b())`' : 'Node: `await Promise.all([a(), b()])`')).join('; ')}).`,
    '- Give the answer back: `return value` at top level, a last expression, or ' +
      `${runtimes.map((runtime) => (runtime === 'python' ? '`set_result(value, files=["chart.png"])`' : '`setResult(value, ["chart.png"])`')).join(' / ')}. ` +
      'Keep it small and JSON-like (dicts, lists, numbers, strings).',
    '- Files: write them to the current directory and name them in the files list to get them back (images are shown to you).' +
      (runtimes.includes('python') ? ' Matplotlib figures still open at the end come back as PNG images by themselves.' : ''),
    `- Print only what you need: stdout is cut to about ${parts.maxOutputChars} characters (its start and end kept).`,
    '- No network access. Packages: ' +
      `${runtimes.map((runtime) => (runtime === 'python' ? '`install_package("name")`' : '`installPackage("name")`')).join(' / ')} installs from the configured index; the import works on the next line.`,
    '- A tool error raises `ToolError` with the tool\'s message; catch it to go on.',
  ];
  if (runtimes.includes('python')) {
    lines.push(
      '- Python: arguments go by position (in the order shown) or by name. `asyncio`, `json` and `datetime` (the class) need no import. ' +
        'Tool results allow attribute access (`user.email`); a tool with a result schema returns its model, and `from tools.api import GetUserInput, GetUserOutput` gives the models.',
    );
  }
  if (runtimes.includes('node')) lines.push('- Node: pass one object of named arguments (`await get_user({user_id: "u1"})`), or positional ones in order; use `require()` or `await import()`, not static `import`.');
  const inputNames = Object.keys(parts.inputs);
  if (inputNames.length > 0) {
    lines.push(`- Already set as variables: ${inputNames.map((name) => `\`${name}\` (${jsonTypeWord(parts.inputs[name])})`).join(', ')}.`);
  }
  if (both) lines.push('- Set `runtime` to choose the language (default: ' + runtimes[0] + ').');
  if (parts.discovery) lines.push(...describeDiscovery(parts.tools, runtimes));
  if (parts.instructions.trim() !== '') lines.push('', parts.instructions.trim());
  const shown = parts.discovery ? {} : parts.tools;
  for (const runtime of runtimes) {
    let stubs = runtime === 'python' ? pythonStubs(shown, parts.stubs) : typescriptStubs(shown, parts.stubs);
    if (parts.discovery) stubs = [stubs.trimEnd(), runtime === 'python' ? PYTHON_DISCOVERY_STUBS : TYPESCRIPT_DISCOVERY_STUBS].filter(Boolean).join('\n');
    const fence = runtime === 'python' ? 'python' : 'ts';
    lines.push('', `${runtime === 'python' ? 'Python' : 'Node'} API${both ? ` (runtime "${runtime}")` : ''}:`, `\`\`\`${fence}`, stubs.trimEnd(), '```');
  }
  return lines.join('\n');
}

// The code tool's input schema: `code`, and `runtime` when more than one runtime is allowed.
export function codeToolInputSchema(runtimes: readonly Runtime[]): JsonSchema {
  const properties: Record<string, unknown> = {
    code: { type: 'string', description: `The ${runtimes.length > 1 ? 'program' : `${RUNTIME_TITLES[runtimes[0]]} program`} to run.` },
  };
  if (runtimes.length > 1) properties.runtime = { type: 'string', enum: [...runtimes], description: `Which language the code is in (default ${runtimes[0]}).` };
  return { type: 'object', properties, required: ['code'], additionalProperties: false };
}

function jsonTypeWord(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'object';
  return typeof value === 'number' ? 'number' : typeof value;
}
