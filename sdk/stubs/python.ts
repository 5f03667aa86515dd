// Python stubs for a prompt: one `async def` per tool the prelude binds (docstring: the description and the
// arguments), model classes for objects (nested ones named after their path), `call_tool(...)` lines for tools
// whose names are not Python function names. Compact text to read, not a module to import (it parses, though).

import type { ToolDeclaration } from '../../daemon/wire-types.js';
import type { ToolSet } from '../types.js';
import { isPythonName, pythonToolFunctionNames } from './names.js';
import { buildStubModel, splitNull, type Field, type ObjectModel, type ToolModel, type TypeNode } from './schema.js';
import { cutDescription, DEFAULT_MAX_DESCRIPTION_CHARS, fieldHint, toDeclarations, type StubOptions } from './text.js';

const PRELUDE = [
  'def call_tool(name: str, args: dict | None = None) -> Any: ...  # any tool by name; also awaitable',
  'def call_tools_parallel(calls: list[tuple[str, dict]]) -> list[Any]: ...  # concurrent calls, results in order; also awaitable',
  'def set_result(value: Any, files: list[str] | None = None) -> None: ...  # the result, and workspace files to return',
  'def install_package(*packages: str) -> dict: ...  # e.g. install_package("httpx"); blocks, then the import works',
];

/** Classes as they are rendered, each once, nested ones before the classes that use them. */
class PythonRenderer {
  readonly classes: string[] = [];
  readonly #names = new Map<ObjectModel, string>();
  readonly #taken = new Set<string>();

  constructor(readonly maxChars: number) {}

  // A type as a Python annotation; an object becomes a class (rendered the first time).
  type(node: TypeNode): string {
    switch (node.kind) {
      case 'any':
        return 'Any';
      case 'primitive':
        return { string: 'str', integer: 'int', number: 'float', boolean: 'bool', null: 'None' }[node.type];
      case 'literal':
        return `Literal[${node.values.map(pythonLiteral).join(', ')}]`;
      case 'array':
        return `list[${this.type(node.items)}]`;
      case 'map':
        return `dict[str, ${this.type(node.values)}]`;
      case 'object':
        return this.objectClass(node.model, node.model.name);
      case 'ref':
        return node.name;
      case 'intersection':
        return this.type(node.members[0]); // Python has no intersection type: the first member stands for it.
      case 'union': {
        const literals = node.members.flatMap((member) => (member.kind === 'literal' ? member.values : []));
        const others = node.members.filter((member) => member.kind !== 'literal');
        const parts = others.map((member) => this.type(member)).filter((text) => text !== 'None');
        if (literals.length > 0) parts.push(`Literal[${literals.map(pythonLiteral).join(', ')}]`);
        if (others.length !== parts.length - (literals.length > 0 ? 1 : 0)) parts.push('None');
        return parts.join(' | ');
      }
    }
  }

  // The class of an object model, rendered once under a name no other class has.
  objectClass(model: ObjectModel, wanted: string): string {
    const known = this.#names.get(model);
    if (known !== undefined) return known;
    let name = wanted;
    for (let n = 2; this.#taken.has(name); n++) name = `${wanted}${n}`;
    this.#names.set(model, name);
    this.#taken.add(name);
    const lines = [`class ${name}:`];
    const doc = cutDescription(model.description, this.maxChars);
    if (doc !== '') lines.push(...docstring(doc, '    '));
    for (const field of model.fields) lines.push(`    ${this.field(field)}`);
    if (lines.length === 1) lines.push('    ...');
    this.classes.push(lines.join('\n'));
    return name;
  }

  // Reserves a name (a $ref declaration's) so a path-named class cannot take it.
  reserve(name: string): void {
    this.#taken.add(name);
  }

  // Binds a declaration's object model to its own name before anything refers to it.
  declare(name: string, model: ObjectModel): void {
    this.#taken.delete(name);
    this.objectClass(model, name);
  }

  field(field: Field): string {
    const { type, text } = this.annotation(field);
    const hint = fieldHint(field, this.maxChars);
    if (!isPythonName(field.name)) return `# ${JSON.stringify(field.name)}: ${type}${hint === '' ? '' : ` - ${hint}`} (a key, not a Python name)`;
    return `${field.name}: ${text}${hint === '' ? '' : `  # ${hint}`}`;
  }

  // A field or parameter as `name: T`, `name: T | None = None` or `name: T = default`.
  annotation(field: Field): { type: string; text: string } {
    const type = this.type(field.type);
    if (field.default !== undefined) return { type, text: `${type} = ${pythonLiteral(field.default.value)}` };
    if (field.required) return { type, text: type };
    const optional = splitNull(field.type).nullable || type === 'Any' ? type : `${type} | None`;
    return { type, text: `${optional} = None` };
  }
}

// Python stubs of the tools the sandboxed Python code can call, for a model's prompt.
export function pythonStubs(tools: ToolSet | readonly ToolDeclaration[], options: StubOptions = {}): string {
  const { inputModels = false, prelude = true, maxDescriptionChars = DEFAULT_MAX_DESCRIPTION_CHARS } = options;
  const model = buildStubModel(toDeclarations(tools));
  const renderer = new PythonRenderer(maxDescriptionChars);
  const aliases: string[] = [];
  const declared = new Set(model.declarations.map((declaration) => declaration.name));
  for (const declaration of model.declarations) renderer.reserve(declaration.name);
  for (const declaration of model.declarations) {
    if (declaration.type.kind === 'object') renderer.declare(declaration.name, declaration.type.model);
    else aliases.push(`${declaration.name} = ${renderer.type(declaration.type)}`);
  }
  const functions: string[] = [];
  const callToolLines: string[] = [];
  const functionNames = pythonToolFunctionNames(model.tools.map((tool) => tool.name));
  for (const tool of model.tools) {
    const returns = tool.output === null ? 'Any' : renderer.type(tool.output);
    const functionName = functionNames.get(tool.name);
    const bound = functionName !== undefined && tool.parameters.every((field) => isPythonName(field.name));
    // Parameters that are a `$ref` are declared under the Input model's name already.
    if (inputModels && !declared.has(tool.inputName)) renderer.objectClass({ name: tool.inputName, fields: tool.parameters }, tool.inputName);
    if (bound) functions.push(toolFunction(tool, functionName, returns, renderer));
    else callToolLines.push(...callToolLine(tool, returns, renderer));
  }
  const sections = [
    prelude ? PRELUDE.join('\n') : '',
    [...aliases, ...renderer.classes].join('\n\n'),
    functions.join('\n\n'),
    callToolLines.length > 0 ? ['# Tools reached only through call_tool (their names are not Python function names):', ...callToolLines].join('\n') : '',
  ];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

// `async def name(a: str, b: int | None = None) -> NameOutput:` with its docstring.
function toolFunction(tool: ToolModel, functionName: string, returns: string, renderer: PythonRenderer): string {
  let optionalSeen = false;
  const parameters = tool.parameters.map((field) => {
    const { type, text } = renderer.annotation(field);
    const optional = !field.required || field.default !== undefined;
    optionalSeen ||= optional;
    // After an optional parameter Python needs defaults; `= ...` marks a required one (binding stays positional).
    return `${field.name}: ${!optional && optionalSeen ? `${type} = ...` : text}`;
  });
  const head = `async def ${functionName}(${parameters.join(', ')}) -> ${returns}:`;
  const doc = cutDescription(tool.description, renderer.maxChars);
  const argumentLines = tool.parameters
    .map((field) => ({ field, hint: fieldHint(field, renderer.maxChars) }))
    .filter(({ hint }) => hint !== '')
    .map(({ field, hint }) => `${field.name}: ${hint}`);
  const body = [doc, argumentLines.join('\n')].filter((part) => part !== '').join('\n\n');
  return body === '' ? `${head} ...` : [head, ...docstring(body, '    ')].join('\n');
}

// `# await call_tool("search-docs", {"query": str}) -> SearchDocsOutput` and its description.
function callToolLine(tool: ToolModel, returns: string, renderer: PythonRenderer): string[] {
  const args = tool.parameters.map((field) => `${JSON.stringify(field.name)}: ${renderer.annotation(field).type}${field.required ? '' : ' (optional)'}`);
  const lines = [`# await call_tool(${JSON.stringify(tool.name)}, {${args.join(', ')}}) -> ${returns}`];
  const doc = cutDescription(tool.description, renderer.maxChars).replace(/\s+/g, ' ');
  if (doc !== '') lines.push(`#     ${doc}`);
  return lines;
}

// A docstring at an indent; backslashes and triple quotes escaped so any text stays one string.
function docstring(text: string, indent: string): string[] {
  const escaped = text.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"').replace(/"$/, '\\"');
  const lines = escaped.split('\n');
  if (lines.length === 1) return [`${indent}"""${lines[0]}"""`];
  return [`${indent}"""${lines[0]}`, ...lines.slice(1).map((line) => (line === '' ? '' : `${indent}${line}`)), `${indent}"""`];
}

// A JSON value as a Python literal (True, None, dicts and lists of them).
function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'None';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${pythonLiteral(item)}`).join(', ')}}`;
  return 'None';
}
