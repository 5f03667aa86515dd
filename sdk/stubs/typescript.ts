// TypeScript declarations for a prompt: one `declare function` per tool the Node prelude binds (taking the one
// object of named arguments), `callTool` overloads for the other tools, interfaces for $ref'd and result models,
// inline object types elsewhere. Valid declarations: test/sdk/stubs.test.ts compiles code against them.

import type { ToolDeclaration } from '../../daemon/wire-types.js';
import type { ToolSet } from '../types.js';
import { isTypeScriptName, nodeToolFunctionNames } from './names.js';
import { buildStubModel, type Field, type ObjectModel, type TypeNode } from './schema.js';
import { cutDescription, DEFAULT_MAX_DESCRIPTION_CHARS, fieldHint, toDeclarations, type StubOptions } from './text.js';

const PRELUDE = [
  '/** Any tool by name. */',
  'declare function callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;',
  '/** Concurrent calls, results in order. */',
  'declare function callToolsParallel(calls: [name: string, args?: Record<string, unknown>][]): Promise<unknown[]>;',
  '/** The result, and workspace files to return. */',
  'declare function setResult(value: unknown, files?: string[]): void;',
  '/** e.g. installPackage("cheerio"); blocks, then require() works. */',
  'declare function installPackage(...packages: string[]): Promise<{ installed: { name: string; version: string }[] }>;',
];

// TypeScript declarations of the tools the sandboxed Node code can call, for a model's prompt.
export function typescriptStubs(tools: ToolSet | readonly ToolDeclaration[], options: StubOptions = {}): string {
  const { inputModels = false, prelude = true, maxDescriptionChars = DEFAULT_MAX_DESCRIPTION_CHARS } = options;
  const model = buildStubModel(toDeclarations(tools));
  const render = new TypeScriptRenderer(maxDescriptionChars);
  const types: string[] = model.declarations.map((declaration) =>
    declaration.type.kind === 'object'
      ? render.interface(declaration.name, declaration.type.model)
      : `${render.doc(declaration.description, '')}type ${declaration.name} = ${render.type(declaration.type, '')};`,
  );
  const functions: string[] = [];
  const overloads: string[] = [];
  const functionNames = nodeToolFunctionNames(model.tools.map((tool) => tool.name));
  for (const tool of model.tools) {
    let returns = 'unknown';
    if (tool.output?.kind === 'object') {
      types.push(render.interface(tool.outputName, tool.output.model));
      returns = tool.outputName;
    } else if (tool.output !== null) {
      returns = render.type(tool.output, '');
    }
    let args = tool.parameters.length === 0 ? '' : render.objectType({ name: tool.inputName, fields: tool.parameters }, '');
    if (inputModels && args !== '') {
      types.push(render.interface(tool.inputName, { name: tool.inputName, fields: tool.parameters }));
      args = tool.inputName;
    }
    const optional = tool.parameters.every((field) => !field.required);
    const doc = render.doc(tool.description, '');
    const functionName = functionNames.get(tool.name);
    if (functionName !== undefined) {
      functions.push(`${doc}declare function ${functionName}(${args === '' ? '' : `args${optional ? '?' : ''}: ${args}`}): Promise<${returns}>;`);
    } else {
      overloads.push(`${doc}declare function callTool(name: ${JSON.stringify(tool.name)}${args === '' ? '' : `, args${optional ? '?' : ''}: ${args}`}): Promise<${returns}>;`);
    }
  }
  // Overloads of callTool stay next to its general signature.
  const callTool = prelude ? [...overloads, ...PRELUDE] : overloads;
  const sections = [types.join('\n'), functions.join('\n'), callTool.join('\n')];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

class TypeScriptRenderer {
  constructor(readonly maxChars: number) {}

  // A type as TypeScript, objects inline; indent is that of the line the type starts on.
  type(node: TypeNode, indent: string): string {
    switch (node.kind) {
      case 'any':
        return 'unknown';
      case 'primitive':
        return node.type === 'integer' ? 'number' : node.type;
      case 'literal':
        return node.values.map((value) => JSON.stringify(value)).join(' | ');
      case 'array': {
        const items = this.type(node.items, indent);
        const compound = node.items.kind === 'union' || node.items.kind === 'intersection' || (node.items.kind === 'literal' && node.items.values.length > 1);
        return compound ? `(${items})[]` : `${items}[]`;
      }
      case 'map':
        return `Record<string, ${this.type(node.values, indent)}>`;
      case 'object':
        return this.objectType(node.model, indent);
      case 'ref':
        return node.name;
      case 'union':
        return node.members.map((member) => this.type(member, indent)).join(' | ');
      case 'intersection':
        return node.members.map((member) => `(${this.type(member, indent)})`).join(' & ');
    }
  }

  // `{ a: string; b?: number }` written one property a line, each after its doc comment.
  objectType(model: ObjectModel, indent: string): string {
    const inner = `${indent}  `;
    const lines = model.fields.map((field) => `${inner}${this.doc(this.hint(field), inner)}${this.property(field, inner)}`);
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  interface(name: string, model: ObjectModel): string {
    return `${this.doc(model.description, '')}interface ${name} ${this.objectType(model, '')}`;
  }

  property(field: Field, indent: string): string {
    const key = isTypeScriptName(field.name) ? field.name : JSON.stringify(field.name);
    return `${key}${field.required ? '' : '?'}: ${this.type(field.type, indent)};`;
  }

  hint(field: Field): string {
    return fieldHint(field, this.maxChars, field.default === undefined ? undefined : JSON.stringify(field.default.value));
  }

  // A `/** ... */` comment (and its line break) before a declaration, or nothing.
  doc(text: string | undefined, indent: string): string {
    const cut = cutDescription(text, this.maxChars).replace(/\*\//g, '*\\/');
    if (cut === '') return '';
    const lines = cut.split('\n');
    if (lines.length === 1) return `/** ${lines[0]} */\n${indent}`;
    return `/**\n${lines.map((line) => `${indent} * ${line}`.trimEnd()).join('\n')}\n${indent} */\n${indent}`;
  }
}
