// Progressive discovery for the code tool: whether the description carries every tool's stubs or only the tool
// groups and how to find the rest from code (search_tools / describe_tool in the sandbox), and that part of the
// description. Pure (docs/code-mode.md, "Many tools: discovery").

import type { Runtime, ToolSet } from '../types.js';
import { pythonStubs } from '../stubs/python.js';
import type { StubOptions } from '../stubs/text.js';
import { typescriptStubs } from '../stubs/typescript.js';

/** `'auto'` turns discovery on past DISCOVERY_MIN_TOOLS tools or DISCOVERY_MIN_STUB_BYTES of stubs. */
export type DiscoveryOption = 'auto' | boolean;

/** With more tools than this, 'auto' discovery is on. */
export const DISCOVERY_MIN_TOOLS = 30;
/** With more UTF-8 bytes of stubs than this (in any allowed runtime), 'auto' discovery is on. */
export const DISCOVERY_MIN_STUB_BYTES = 12_000;
/** How many tool names each group shows in the description. */
const NAMES_PER_GROUP = 6;
/** The group of tools whose name has no `server.` prefix. */
const UNGROUPED = 'other';

/** The declarations of the discovery functions, after the prelude's own in the description's API block. */
export const PYTHON_DISCOVERY_STUBS = [
  'def search_tools(query: str, limit: int | None = 10) -> list[dict]: ...  # tools whose name or description match the words, best first: [{"name", "function" (the function to call, or None: use call_tool), "description"}]; also awaitable',
  'def describe_tool(name: str) -> str: ...  # one tool\'s full stub (signature, docstring, result model); also awaitable',
].join('\n');
export const TYPESCRIPT_DISCOVERY_STUBS = [
  '/** Tools whose name or description match the words, best first; `function` is the global to call, or null (use callTool). */',
  'declare function searchTools(query: string, options?: { limit?: number }): { name: string; function: string | null; description: string }[];',
  '/** One tool\'s full declaration (signature, doc comment, result interface). */',
  'declare function describeTool(name: string): string;',
].join('\n');

// Whether the description leaves the stubs out for discovery: as asked, or for 'auto' when they would be large.
export function resolveDiscovery(option: DiscoveryOption, tools: ToolSet, runtimes: readonly Runtime[], stubs: StubOptions): boolean {
  if (option !== 'auto') return option;
  if (Object.keys(tools).length > DISCOVERY_MIN_TOOLS) return true;
  return runtimes.some((runtime) => Buffer.byteLength(runtime === 'python' ? pythonStubs(tools, stubs) : typescriptStubs(tools, stubs)) > DISCOVERY_MIN_STUB_BYTES);
}

// The tools grouped by their name's prefix (`github.search_issues` → github), in order of first appearance;
// tools without one form the group "other", listed last.
export function groupTools(names: readonly string[]): { group: string; names: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const name of names) {
    const dot = name.indexOf('.');
    const group = dot > 0 ? name.slice(0, dot) : UNGROUPED;
    groups.set(group, [...(groups.get(group) ?? []), name]);
  }
  const other = groups.get(UNGROUPED);
  groups.delete(UNGROUPED);
  if (other !== undefined) groups.set(UNGROUPED, other);
  return [...groups].map(([group, members]) => ({ group, names: members }));
}

// The description's part about finding tools: the rule, then each group with its count and first names.
export function describeDiscovery(tools: ToolSet, runtimes: readonly Runtime[]): string[] {
  const names = Object.keys(tools);
  const python = runtimes.includes('python');
  // The examples name a real tool: the first of a group if there is one, and the last word of its name.
  const example = names.find((name) => name.includes('.')) ?? names[0] ?? 'get_user';
  const word = example.split(/[^A-Za-z0-9]+/).filter(Boolean).at(-1) ?? example;
  const search = python ? `\`search_tools(${JSON.stringify(word)})\`` : `\`searchTools(${JSON.stringify(word)})\``;
  const describe = python ? `\`describe_tool(${JSON.stringify(example)})\`` : `\`describeTool(${JSON.stringify(example)})\``;
  const both = runtimes.length > 1 ? ' (Node: `searchTools`, `describeTool`)' : '';
  const lines = [
    `- Tools: ${names.length} are declared and not shown here; find the ones you need from code. ${search} returns the best matches ` +
      `(10 unless you pass a limit) with each one's name, the function to call (none: use ${python ? 'call_tool' : 'callTool'}) and a one-line description; ` +
      `${describe} returns one tool's full signature${both}. Print or return what you found, then call the tools in your next program ` +
      '(or in the same one when you are sure of the name and arguments).',
    '',
    `Tool groups (${names.length} tools; searching a group's name lists its tools):`,
  ];
  for (const { group, names: members } of groupTools(names)) {
    const shown = members.slice(0, NAMES_PER_GROUP).map((name) => (group !== UNGROUPED ? name.slice(group.length + 1) : name));
    const more = members.length > NAMES_PER_GROUP ? ', …' : '';
    lines.push(`- ${group} (${members.length} tool${members.length === 1 ? '' : 's'}): ${shown.join(', ')}${more}`);
  }
  return lines;
}
