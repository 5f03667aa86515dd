// Each tool's stub alone, in one runtime's language: what the SDK sends as the declaration's `stub`, so that
// describe_tool / describeTool in the sandbox return the same text a prompt would show (docs/code-mode.md,
// "Many tools: discovery"). Pure.

import type { ToolDeclaration } from '../../daemon/wire-types.js';
import { PROTOCOL } from '../../daemon/protocol.js';
import type { Runtime, ToolSet } from '../types.js';
import { pythonStubs } from './python.js';
import { toDeclarations, type StubOptions } from './text.js';
import { typescriptStubs } from './typescript.js';

const CUT_MARK = '\n… (cut: the stub is longer than the daemon takes)\n';

// One tool's stub (its function or call_tool line and its models, no prelude lines), cut to maxToolStubBytes.
export function renderToolStub(tool: ToolDeclaration, runtime: Runtime, options: StubOptions = {}): string {
  const render = runtime === 'python' ? pythonStubs : typescriptStubs;
  return cutStub(render([tool], { ...options, prelude: false }));
}

// The stubs of every tool by name, for ExecuteOptions.toolStubs: render once, send with many executions.
export function renderToolStubs(tools: ToolSet | readonly ToolDeclaration[], runtime: Runtime, options: StubOptions = {}): Record<string, string> {
  return Object.fromEntries(toDeclarations(tools).map((tool) => [tool.name, renderToolStub(tool, runtime, options)]));
}

// A stub within the daemon's maxToolStubBytes (UTF-8), ending in a note when cut, never splitting a character.
export function cutStub(text: string, maxBytes: number = PROTOCOL.maxToolStubBytes): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const room = maxBytes - Buffer.byteLength(CUT_MARK);
  const head = Buffer.from(text).subarray(0, Math.max(0, room)).toString('utf8').replace(/\uFFFD+$/, '');
  return `${head}${CUT_MARK}`;
}
