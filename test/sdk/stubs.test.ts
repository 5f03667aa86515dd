// pythonStubs() and typescriptStubs(): exact text for small schemas, the schema features one by one, that the
// Python stubs run (every annotation resolves) and the TypeScript ones type-check code (and refuse wrong code),
// and that they show a function exactly for the tools the real preludes bind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { pythonStubs, RunboxClient, typescriptStubs, type ToolDeclaration, type ToolSet } from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { SAMPLE_TOOLS } from './sample-tools.js';

const PYTHON = '/opt/runbox/python/bin/python3';
const tool = (name: string, parameters: Record<string, unknown>, outputSchema?: Record<string, unknown>, description = ''): ToolDeclaration => ({
  name,
  description,
  parameters,
  ...(outputSchema ? { outputSchema } : {}),
});

const GET_USER = tool(
  'get_user',
  {
    type: 'object',
    properties: { user_id: { type: 'string', description: 'The id' }, limit: { type: 'integer', default: 10 } },
    required: ['user_id'],
  },
  {
    type: 'object',
    properties: { email: { type: 'string', format: 'email' }, nickname: { type: 'string', nullable: true } },
    required: ['email'],
  },
  'Fetch a user.',
);

/** A description that would end its docstring early were its last quote not escaped (checked to parse below). */
const QUOTED = tool('quoted', { type: 'object', properties: {} }, undefined, 'Ends in a quote "');

describe('stubs: exact text', () => {
  it('renders a tool with an outputSchema as Python', () => {
    assert.equal(
      pythonStubs([GET_USER], { prelude: false }),
      [
        'class GetUserOutput:',
        '    email: str  # format: email',
        '    nickname: str | None = None',
        '',
        'async def get_user(user_id: str, limit: int = 10) -> GetUserOutput:',
        '    """Fetch a user.',
        '',
        '    user_id: The id',
        '    """',
        '',
      ].join('\n'),
    );
  });

  it('renders the same tool as TypeScript', () => {
    assert.equal(
      typescriptStubs([GET_USER], { prelude: false }),
      [
        'interface GetUserOutput {',
        '  /** format: email */',
        '  email: string;',
        '  nickname?: string | null;',
        '}',
        '',
        '/** Fetch a user. */',
        'declare function get_user(args: {',
        '  /** The id */',
        '  user_id: string;',
        '  /** default: 10 */',
        '  limit?: number;',
        '}): Promise<GetUserOutput>;',
        '',
      ].join('\n'),
    );
  });

  it('renders a tool without parameters or output, and one Python cannot name, as the preludes reach them', () => {
    const tools = [tool('list_users', { type: 'object', properties: {} }), tool('search-docs', { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] })];
    assert.equal(
      pythonStubs(tools, { prelude: false }),
      ['async def list_users() -> Any: ...', '', '# Tools reached only through call_tool (their names are not Python function names):', '# await call_tool("search-docs", {"q": str}) -> Any', ''].join('\n'),
    );
    assert.equal(
      typescriptStubs(tools, { prelude: false }),
      ['declare function list_users(): Promise<unknown>;', '', 'declare function callTool(name: "search-docs", args: {', '  q: string;', '}): Promise<unknown>;', ''].join('\n'),
    );
  });

  it('accepts a ToolSet as well as declarations', () => {
    const set: ToolSet = { get_user: { description: GET_USER.description, parameters: GET_USER.parameters, outputSchema: GET_USER.outputSchema, handler: () => null } };
    assert.equal(pythonStubs(set), pythonStubs([GET_USER]));
    assert.equal(typescriptStubs(set), typescriptStubs([GET_USER]));
  });
});

describe('stubs: schema features', () => {
  it('ends recursive $refs at their name: self, mutual, root and through allOf', () => {
    const tree = tool('walk', {
      type: 'object',
      properties: {
        node: { $ref: '#/$defs/Node' },
        a: { $ref: '#/definitions/A' },
        again: { $ref: '#' },
        merged: { allOf: [{ $ref: '#/definitions/Loop' }] },
      },
      $defs: { Node: { type: 'object', properties: { value: { type: 'integer' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } } } },
      definitions: {
        A: { type: 'object', properties: { b: { $ref: '#/definitions/B' } } },
        B: { type: 'object', properties: { a: { $ref: '#/definitions/A' } } },
        Loop: { $ref: '#/definitions/Loop' },
      },
    });
    const python = pythonStubs([tree]);
    assert.equal(python.match(/^class WalkInputNode:$/gm)?.length, 1, python);
    assert.match(python, /children: list\[WalkInputNode\] \| None = None/);
    assert.match(python, /^class WalkInputA:\n {4}b: WalkInputB \| None = None$/m);
    assert.match(python, /^class WalkInputB:\n {4}a: WalkInputA \| None = None$/m);
    assert.match(python, /again: WalkInput \| None = None/);
    const typescript = typescriptStubs([tree]);
    assert.match(typescript, /^interface WalkInputNode \{\n {2}value\?: number;\n {2}children\?: WalkInputNode\[\];\n\}$/m);
    assert.match(typescript, /again\?: WalkInput;/);
  });

  it('writes enums, consts and literal unions', () => {
    const t = tool('pick', {
      type: 'object',
      properties: { color: { enum: ['red', 'green'] }, one: { const: 1 }, maybe: { enum: ['a', null] }, flags: { type: 'array', items: { enum: [true, 2] } } },
      required: ['color', 'one', 'maybe', 'flags'],
    });
    assert.match(pythonStubs([t]), /async def pick\(color: Literal\["red", "green"\], one: Literal\[1\], maybe: Literal\["a"\] \| None, flags: list\[Literal\[True, 2\]\]\) -> Any/);
    const typescript = typescriptStubs([t]);
    assert.match(typescript, /color: "red" \| "green";\n {2}one: 1;\n {2}maybe: "a" \| null;\n {2}flags: \(true \| 2\)\[\];/);
  });

  it('marks nullable fields either way: nullable: true and type: [x, "null"]', () => {
    const t = tool('n', { type: 'object', properties: { a: { type: 'string', nullable: true }, b: { type: ['integer', 'null'] } }, required: ['a', 'b'] });
    assert.match(pythonStubs([t]), /async def n\(a: str \| None, b: int \| None\)/);
    assert.match(typescriptStubs([t]), /a: string \| null;\n {2}b: number \| null;/);
  });

  it('writes anyOf/oneOf as unions, allOf of objects as one merged model, type arrays as unions', () => {
    const t = tool(
      'u',
      {
        type: 'object',
        properties: { id: { anyOf: [{ type: 'integer' }, { type: 'string' }] }, when: { oneOf: [{ type: 'string', format: 'date' }, { type: 'number' }] }, v: { type: ['boolean', 'string'] } },
        required: ['id', 'when', 'v'],
      },
      { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { type: 'object', properties: { b: { type: 'number' } } }] },
    );
    const python = pythonStubs([t]);
    assert.match(python, /async def u\(id: int \| str, when: str \| float, v: bool \| str\) -> UOutput:/);
    assert.match(python, /^class UOutput:\n {4}a: str\n {4}b: float \| None = None$/m);
    assert.match(typescriptStubs([t]), /interface UOutput \{\n {2}a: string;\n {2}b\?: number;\n\}/);
  });

  it('writes arrays, maps (additionalProperties) and nested objects named after their path', () => {
    const t = tool(
      'orders',
      { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } }, meta: { type: 'object', additionalProperties: { type: 'integer' } }, any: {} } },
      { type: 'object', properties: { rows: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } } }, required: ['rows'] },
    );
    const python = pythonStubs([t]);
    assert.match(python, /async def orders\(ids: list\[str\] \| None = None, meta: dict\[str, int\] \| None = None, any: Any = None\) -> OrdersOutput:/);
    assert.match(python, /^class OrdersOutputRowsItem:\n {4}sku: str$/m);
    assert.ok(python.indexOf('class OrdersOutputRowsItem') < python.indexOf('class OrdersOutput:'), 'nested classes come first');
    const typescript = typescriptStubs([t]);
    assert.match(typescript, /ids\?: string\[\];\n {2}meta\?: Record<string, number>;\n {2}any\?: unknown;/);
    assert.match(typescript, /rows: \{\n {4}sku: string;\n {2}\}\[\];/);
  });

  it('keeps required parameters after optional ones positional (`= ...`), and shows descriptions, formats and defaults', () => {
    const t = tool('mix', { type: 'object', properties: { a: { type: 'string', description: 'First' }, b: { type: 'integer' } }, required: ['b'] });
    assert.match(pythonStubs([t]), /async def mix\(a: str \| None = None, b: int = \.\.\.\) -> Any:\n {4}"""a: First"""/);
  });

  it('names a $defs schema after its root model, as the Python prelude names its class: no two tools\' names meet', () => {
    const user = { type: 'object', properties: { id: { type: 'string' } } };
    const a = tool('a', { type: 'object', properties: { u: { $ref: '#/$defs/User' }, v: { $ref: '#/$defs/User' } }, $defs: { User: user } }, { $ref: '#/$defs/User', $defs: { User: user } });
    const b = tool('b', { type: 'object', properties: { u: { $ref: '#/$defs/User' }, w: { $ref: '#/definitions/User' } }, $defs: { User: { type: 'object', properties: { name: { type: 'string' } } } }, definitions: { User: user } });
    const python = pythonStubs([a, b], { prelude: false });
    assert.match(python, /^class AInputUser:\n {4}id: str/m);
    assert.match(python, /async def a\(u: AInputUser \| None = None, v: AInputUser \| None = None\) -> AOutput:/, 'one root shares the schema it reaches twice');
    assert.match(python, /^class AOutput:\n {4}id: str/m, 'an outputSchema that is a $ref is the Output model');
    assert.match(python, /^class BInputUser:\n {4}name: str/m);
    assert.match(python, /^class BInputUser2:\n {4}id: str/m, 'another schema of the same name in one root gets a number');
    assert.equal(python.match(/^class /gm)?.length, 4, python);
    const typescript = typescriptStubs([a, b], { prelude: false });
    for (const name of ['AInputUser', 'AOutput', 'BInputUser', 'BInputUser2']) assert.match(typescript, new RegExp(`^interface ${name} \\{`, 'm'));
  });

  it('reaches tools the preludes do not bind through call_tool / callTool, and names models in PascalCase', () => {
    const tools = ['search-docs', 'print', 'class', 'fetch', '__init__', 'call_tool', 'toString'].map((name) => tool(name, { type: 'object', properties: {} }, { type: 'object', properties: { ok: { type: 'boolean' } } }));
    const python = pythonStubs(tools);
    for (const name of ['search-docs', 'print', 'class', '__init__', 'call_tool']) assert.ok(python.includes(`# await call_tool(${JSON.stringify(name)}, {}) ->`), `${name}:\n${python}`);
    assert.match(python, /^async def fetch\(\) -> FetchOutput: \.\.\.$/m);
    assert.match(python, /^class SearchDocsOutput:/m);
    const typescript = typescriptStubs(tools);
    for (const name of ['search-docs', 'class', 'fetch', 'toString']) assert.ok(typescript.includes(`declare function callTool(name: ${JSON.stringify(name)}): Promise<`), `${name}:\n${typescript}`);
    assert.match(typescript, /^declare function print\(\): Promise<PrintOutput>;$/m);
  });

  it('shows a dotted tool (an MCP server\'s) as its server__tool function, unless that name is taken or ambiguous', () => {
    const output = { type: 'object', properties: { ok: { type: 'boolean' } } };
    const names = ['github.search-issues', 'docs.get.page', 'dup.a-b', 'dup.a_b', 'taken.x', 'taken__x', 'x.print'];
    const tools = names.map((name) => tool(name, { type: 'object', properties: {} }, output));
    const python = pythonStubs(tools, { prelude: false });
    assert.match(python, /^async def github__search_issues\(\) -> GithubSearchIssuesOutput: \.\.\.$/m);
    assert.match(python, /^async def docs__get_page\(\) -> DocsGetPageOutput: \.\.\.$/m);
    assert.match(python, /^async def x__print\(\)/m);
    assert.match(python, /^async def taken__x\(\) -> TakenXOutput2: \.\.\.$/m);
    for (const name of ['dup.a-b', 'dup.a_b', 'taken.x']) assert.ok(python.includes(`# await call_tool(${JSON.stringify(name)}, {}) ->`), `${name}:\n${python}`);
    const typescript = typescriptStubs(tools, { prelude: false });
    assert.match(typescript, /^declare function github__search_issues\(\): Promise<GithubSearchIssuesOutput>;$/m);
    for (const name of ['dup.a-b', 'dup.a_b', 'taken.x']) assert.ok(typescript.includes(`declare function callTool(name: ${JSON.stringify(name)}): Promise<`), `${name}:\n${typescript}`);
  });

  it('escapes descriptions so no text can end a docstring or a comment early, and cuts long ones', () => {
    const t = tool('say', { type: 'object', properties: { x: { type: 'string', description: 'ends */ here' } } }, undefined, 'Quotes """ and \\ inside');
    assert.match(pythonStubs([t]), /"""Quotes \\"\\"\\" and \\\\ inside/);
    assert.match(pythonStubs([QUOTED]), /"""Ends in a quote \\""""$/m);
    assert.ok(!typescriptStubs([t]).includes('ends */'));
    const long = tool('long', { type: 'object', properties: {} }, undefined, 'word '.repeat(200));
    assert.ok(pythonStubs([long], { maxDescriptionChars: 50 }).includes('…'));
    assert.ok(pythonStubs([long], { maxDescriptionChars: 50, prelude: false }).length < 120);
  });

  it('keeps a 10-tool set to a few KB', (t) => {
    const python = Buffer.byteLength(pythonStubs(SAMPLE_TOOLS));
    const typescript = Buffer.byteLength(typescriptStubs(SAMPLE_TOOLS));
    t.diagnostic(`10 sample tools: Python ${python} bytes, TypeScript ${typescript} bytes (prelude included)`);
    assert.ok(python < 6000 && typescript < 6000, `${python} / ${typescript}`);
  });
});

describe('stubs: valid code', () => {
  it('Python stubs run and every annotation resolves (typing.get_type_hints)', { skip: fs.existsSync(PYTHON) ? false : `${PYTHON} is missing (npm run setup)` }, () => {
    const check = [
      'import sys, typing, inspect',
      'source = "from __future__ import annotations\\nfrom typing import Any, Literal\\n" + sys.stdin.read()',
      'namespace = {}',
      'exec(compile(source, "stubs.py", "exec"), namespace)',
      'count = 0',
      'for name, value in list(namespace.items()):',
      '    if inspect.isclass(value) or inspect.isfunction(value) or inspect.iscoroutinefunction(value):',
      '        typing.get_type_hints(value, namespace)',
      '        count += 1',
      'print(count)',
    ].join('\n');
    const features = [GET_USER, QUOTED, ...SAMPLE_TOOLS, tool('walk', { type: 'object', properties: { n: { $ref: '#/$defs/N' } }, $defs: { N: { type: 'object', properties: { next: { $ref: '#/$defs/N' } } } } })];
    const checked = Number(execFileSync(PYTHON, ['-c', check], { input: pythonStubs(features), encoding: 'utf8' }).trim());
    assert.ok(checked >= 20, `only ${checked} classes and functions were checked`);
    assert.throws(() => execFileSync(PYTHON, ['-c', check], { input: 'class Broken:\n    x: Missing\n', stdio: 'pipe' }), /Missing/, 'the check itself catches an unknown name');
  });

  it('TypeScript declarations type-check code that uses them right, and reject code that does not', () => {
    const declarations = typescriptStubs([GET_USER, ...SAMPLE_TOOLS]);
    const good = [
      'async function main() {',
      '  const user = await get_user({ user_id: "u1" });',
      '  const email: string = user.email;',
      '  const found = await search_users({ query: "ann", limit: 5 });',
      '  const first: string | undefined = found.users[0]?.manager?.email;',
      '  const hits = await search__docs({ query: "refunds" });',
      '  const title: string = hits.hits[0].title;',
      '  const [a, b] = await Promise.all([get_weather({ city: "Oslo" }), list_orders({ user_id: "u1", status: ["paid"] })]);',
      '  setResult({ email, first, title, t: a.temperature, n: b.length });',
      '}',
      'void main;',
    ].join('\n');
    assert.deepEqual(typeCheck(declarations, good), []);
    const bad = ['async function main() {', '  const user = await get_user({ user_ids: 1 });', '  const x: number = (await get_user({ user_id: "u" })).email;', '  await list_orders({ user_id: "u", status: ["lost"] });', '}'].join('\n');
    const errors = typeCheck(declarations, bad);
    assert.equal(errors.length, 3, errors.join('\n'));
  });
});

// Compiles declarations (a global script) and a usage file together; the usage file's error messages.
function typeCheck(declarations: string, usage: string): string[] {
  const files = new Map([['/stubs/tools.d.ts', declarations], ['/stubs/usage.ts', usage]]);
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.fileExists = (name) => files.has(name) || ts.sys.fileExists(name);
  host.getSourceFile = (name, language) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile(name, language) : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const inDeclarations = diagnostics.filter((d) => d.file?.fileName === '/stubs/tools.d.ts');
  assert.deepEqual(inDeclarations.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'the declarations themselves compile');
  return diagnostics.map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('stubs: the functions shown are the ones the preludes bind', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  const toolNames = ['get_user', 'search.docs', 'search-docs', 'print', 'len', 'class', 'fetch', 'toString', 'console', '__init__', 'call_tool', 'setResult', 'open', 'Map', 'None',
    'mcp.get-item', 'a.b.c', 'dup.a-b', 'dup.a_b', 'taken.x', 'taken__x', 'class.def', '__.x__', 'x.print', 'set.result'];
  /** Every name a function could be bound as: the tools' own and their dotted aliases (dottedAlias's rule). */
  const names = [...toolNames, 'search__docs', 'mcp__get_item', 'a__b_c', 'dup__a_b', 'class__def', '____x__', 'x__print', 'set__result'];
  const tools: ToolSet = Object.fromEntries(toolNames.map((name) => [name, { description: '', parameters: { type: 'object', properties: {} }, handler: () => name }]));

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
  });
  after(async () => {
    await client?.close();
    await daemon?.close();
  });

  it('Python', async () => {
    const code = `import inspect\nnames = ${JSON.stringify(names)}\nset_result([n for n in names if inspect.iscoroutinefunction(globals().get(n))])`;
    const out = await client.execute({ runtime: 'python', code, tools });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    const stubs = pythonStubs(tools, { prelude: false });
    assert.deepEqual(names.filter((name) => stubs.includes(`async def ${name}(`)), out.result);
    assert.ok((out.result as string[]).includes('get_user'));
    assert.ok((out.result as string[]).includes('mcp__get_item'));
  });

  it('Node', async () => {
    const code = `const names = ${JSON.stringify(names)};\nreturn names.filter((n) => { try { const v = eval(n); return typeof v === 'function' && v.constructor.name === 'AsyncFunction'; } catch { return false; } });`;
    const out = await client.execute({ runtime: 'node', code, tools });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    const stubs = typescriptStubs(tools, { prelude: false });
    assert.deepEqual(names.filter((name) => stubs.includes(`declare function ${name}(`)), out.result);
    assert.ok((out.result as string[]).includes('print'));
    assert.ok((out.result as string[]).includes('mcp__get_item'));
  });
});
