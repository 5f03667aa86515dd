// The schema walker both stub renderers share: tools' JSON Schemas (parameters, outputSchema) read once into a
// small type model (primitives, literals, arrays, maps, objects, unions, named $ref declarations), so Python and
// TypeScript are two renderings of one reading. Pure; recursive $refs end at their name, never loop.

import type { ToolDeclaration } from '../../daemon/wire-types.js';
import { pascalCase } from './names.js';

/** A JSON value a `const`/`enum` can hold that both languages write as a literal type. */
export type LiteralValue = string | number | boolean | null;

/** A type as the stubs show it. */
export type TypeNode =
  | { kind: 'any' }
  | { kind: 'primitive'; type: 'string' | 'integer' | 'number' | 'boolean' | 'null' }
  | { kind: 'literal'; values: LiteralValue[] }
  | { kind: 'array'; items: TypeNode }
  | { kind: 'map'; values: TypeNode }
  | { kind: 'object'; model: ObjectModel }
  | { kind: 'ref'; name: string }
  | { kind: 'union'; members: TypeNode[] }
  | { kind: 'intersection'; members: TypeNode[] };

/** One property of an object. */
export interface Field {
  name: string;
  type: TypeNode;
  required: boolean;
  description?: string;
  /** The schema's `format` (`date-time`, `email`...), shown as a hint. */
  format?: string;
  /** Present when the schema has a `default`. */
  default?: { value: unknown };
}

/** An object with declared properties; `name` is the path-derived name a renderer may give it. */
export interface ObjectModel {
  name: string;
  description?: string;
  fields: Field[];
}

/** A named type a `$ref` points to. */
export interface Declaration {
  name: string;
  description?: string;
  type: TypeNode;
}

/** One tool as the stubs show it. */
export interface ToolModel {
  name: string;
  description: string;
  /** `<PascalCase(name)>Input`: the parameters' model. */
  inputName: string;
  /** `<PascalCase(name)>Output`: the result's model, when the tool has an outputSchema. */
  outputName: string;
  /** The parameters in `properties` order (the order positional arguments bind in). */
  parameters: Field[];
  /** The result's type; null when the tool declares no outputSchema. */
  output: TypeNode | null;
}

/** The tools and the $ref declarations they use, in first-use order. */
export interface StubModel {
  tools: ToolModel[];
  declarations: Declaration[];
}

type Schema = Record<string, unknown>;

/** What the walk of one root schema (a tool's parameters or outputSchema) shares. */
interface WalkContext {
  root: Schema;
  rootName: string;
  /** `$ref` strings of this root already named. */
  refNames: Map<string, string>;
  registry: Registry;
}

/** Declarations across all tools: a name is reused for the same schema, never for a different one (names start
 * with their root's, `GetUserOutput…`, so in practice only one root's refs share one). */
interface Registry {
  schemaByName: Map<string, string>;
  declarations: Declaration[];
}

const ANY: TypeNode = { kind: 'any' };
/** How many $refs in a row allOf follows before it gives up (a ref cycle with no object in it). */
const MAX_REF_HOPS = 32;
const PRIMITIVES = new Set(['string', 'integer', 'number', 'boolean', 'null']);

// Reads tools' schemas into the model both renderers print.
export function buildStubModel(tools: readonly ToolDeclaration[]): StubModel {
  const registry: Registry = { schemaByName: new Map(), declarations: [] };
  const models = tools.map((tool) => {
    const pascal = pascalCase(tool.name);
    const inputName = `${pascal}Input`;
    const outputName = `${pascal}Output`;
    const input = walkRoot(tool.parameters, inputName, registry);
    const output = tool.outputSchema === undefined ? null : walkRoot(tool.outputSchema, outputName, registry);
    return { name: tool.name, description: tool.description ?? '', inputName, outputName, parameters: objectFields(input, registry), output };
  });
  return { tools: models, declarations: registry.declarations };
}

// The fields of an object type (through a $ref), or none.
function objectFields(node: TypeNode, registry: Registry): Field[] {
  if (node.kind === 'object') return node.model.fields;
  if (node.kind === 'ref') {
    const target = registry.declarations.find((declaration) => declaration.name === node.name);
    if (target?.type.kind === 'object') return target.type.model.fields;
  }
  return [];
}

// A root schema; one that is a `$ref` (`{"$ref": "#/$defs/User", "$defs": …}`) names its declaration after the
// root (`GetUserOutput`), as the Python prelude's model of it is named.
function walkRoot(schema: unknown, rootName: string, registry: Registry): TypeNode {
  const root = isSchema(schema) ? schema : {};
  const context = { root, rootName, refNames: new Map(), registry };
  return typeof root.$ref === 'string' ? walkRef(root.$ref, context, rootName) : walk(root, rootName, context);
}

// One schema as a type; name is what an object found here is called (its path).
function walk(schema: unknown, name: string, context: WalkContext): TypeNode {
  if (!isSchema(schema)) return ANY;
  if (typeof schema.$ref === 'string') return walkRef(schema.$ref, context);
  if (schema.nullable === true) return union([walk({ ...schema, nullable: false }, name, context), { kind: 'primitive', type: 'null' }]);
  if (Array.isArray(schema.allOf)) return walkAllOf(schema, name, context);
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (alternatives !== undefined) {
    const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
    const shared = Object.keys(rest).some((key) => key === 'type' || key === 'properties') ? rest : {};
    // One alternative besides null keeps the name (`address: Address | None`), as the Python prelude's model does.
    const single = alternatives.filter((member) => !(isSchema(member) && member.type === 'null')).length === 1;
    return union(alternatives.map((member, index) => walk({ ...shared, ...(isSchema(member) ? member : {}) }, single ? name : `${name}${index + 1}`, context)));
  }
  if ('const' in schema) return isLiteral(schema.const) ? { kind: 'literal', values: [schema.const] } : ANY;
  if (Array.isArray(schema.enum)) return enumType(schema.enum);
  if (Array.isArray(schema.type)) return union(schema.type.map((type) => walk({ ...schema, type }, name, context)));
  const type = schema.type;
  if (typeof type === 'string' && PRIMITIVES.has(type)) return { kind: 'primitive', type: type as 'string' };
  if (type === 'array' || (type === undefined && 'items' in schema)) {
    return { kind: 'array', items: Array.isArray(schema.items) ? ANY : walk(schema.items, `${name}Item`, context) };
  }
  if (type === 'object' || (type === undefined && ('properties' in schema || 'additionalProperties' in schema))) return walkObject(schema, name, context);
  return ANY;
}

function walkObject(schema: Schema, name: string, context: WalkContext): TypeNode {
  const properties = isSchema(schema.properties) ? Object.entries(schema.properties) : [];
  if (properties.length === 0) {
    const extra = schema.additionalProperties;
    return { kind: 'map', values: isSchema(extra) ? walk(extra, `${name}Value`, context) : ANY };
  }
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((key) => typeof key === 'string') : []);
  const fields = properties.map(([key, property]): Field => {
    const details = isSchema(property) ? property : {};
    return {
      name: key,
      type: walk(property, `${name}${pascalCase(key)}`, context),
      required: required.has(key),
      ...(typeof details.description === 'string' && details.description !== '' ? { description: details.description } : {}),
      ...(typeof details.format === 'string' ? { format: details.format } : {}),
      ...('default' in details ? { default: { value: details.default } } : {}),
    };
  });
  return { kind: 'object', model: { name, fields, ...descriptionOf(schema) } };
}

// allOf: objects merge into one (their properties and required lists); anything else is an intersection.
function walkAllOf(schema: Schema, name: string, context: WalkContext): TypeNode {
  const { allOf, ...rest } = schema;
  const members = [rest, ...(allOf as unknown[])].map((member) => derefSchema(member, context)).filter((member) => Object.keys(member).length > 0);
  if (members.length === 1) return walk(members[0], name, context);
  const objects = members.every((member) => member.type === 'object' || isSchema(member.properties));
  if (objects) {
    const merged: Schema = { type: 'object', properties: {}, required: [] };
    for (const member of members) {
      Object.assign(merged.properties as Schema, isSchema(member.properties) ? member.properties : {});
      if (Array.isArray(member.required)) (merged.required as unknown[]).push(...member.required);
      if (typeof member.description === 'string') merged.description = member.description;
    }
    return walk(merged, name, context);
  }
  return { kind: 'intersection', members: members.map((member, index) => walk(member, `${name}${index + 1}`, context)) };
}

// A schema with its $ref followed (for merging allOf members), a copy of it otherwise.
function derefSchema(schema: unknown, context: WalkContext, hops = 0): Schema {
  if (!isSchema(schema)) return {};
  if (typeof schema.$ref !== 'string') return schema;
  const target = resolvePointer(schema.$ref, context.root);
  return isSchema(target) && hops < MAX_REF_HOPS ? derefSchema(target, context, hops + 1) : {};
}

// A $ref as the name of its declaration, made (and walked) the first time; external refs are `any`. The name is
// the root's and the ref's last segment, `GetUserOutput` + `Address`: the Python prelude names its model of the
// schema so, and no other tool's can have it (a second schema of that name in the root gets a number).
function walkRef(ref: string, context: WalkContext, wanted?: string): TypeNode {
  if (ref === '#') return { kind: 'ref', name: context.rootName };
  const known = context.refNames.get(ref);
  if (known !== undefined) return { kind: 'ref', name: known };
  const target = resolvePointer(ref, context.root);
  if (!isSchema(target)) return ANY;
  const { registry } = context;
  const key = JSON.stringify(target);
  const base = wanted ?? `${context.rootName}${pascalCase(ref.split('/').pop() ?? 'Model')}`;
  let name = base;
  for (let n = 2; registry.schemaByName.has(name) && registry.schemaByName.get(name) !== key; n++) name = `${base}${n}`;
  context.refNames.set(ref, name);
  if (registry.schemaByName.has(name)) return { kind: 'ref', name };
  registry.schemaByName.set(name, key);
  const declaration: Declaration = { name, type: ANY, ...descriptionOf(target) };
  registry.declarations.push(declaration);
  declaration.type = walk(target, name, context);
  return { kind: 'ref', name };
}

// Follows a local JSON pointer (`#/$defs/User`, `#/definitions/User`, `#/properties/a`); undefined when it leads nowhere.
function resolvePointer(ref: string, root: Schema): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

// An enum as literals, a null among them as a null member of a union (so renderers see it as nullable).
function enumType(values: unknown[]): TypeNode {
  if (values.length === 0 || !values.every(isLiteral)) return ANY;
  const others = values.filter((value) => value !== null);
  if (others.length === values.length) return { kind: 'literal', values };
  const nullType: TypeNode = { kind: 'primitive', type: 'null' };
  return others.length === 0 ? nullType : union([{ kind: 'literal', values: others }, nullType]);
}

// A union with nested unions flattened and repeats dropped; `any` absorbs it all.
function union(members: TypeNode[]): TypeNode {
  const flat = members.flatMap((member) => (member.kind === 'union' ? member.members : [member]));
  if (flat.some((member) => member.kind === 'any')) return ANY;
  const seen = new Set<string>();
  const unique = flat.filter((member) => {
    const key = member.kind === 'object' ? `object:${member.model.name}` : JSON.stringify(member);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.length === 1 ? unique[0] : { kind: 'union', members: unique };
}

function descriptionOf(schema: Schema): { description?: string } {
  return typeof schema.description === 'string' && schema.description !== '' ? { description: schema.description } : {};
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLiteral(value: unknown): value is LiteralValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

// Whether a type admits null (`T | None` / `T | null`), and the type without it.
export function splitNull(node: TypeNode): { type: TypeNode; nullable: boolean } {
  if (node.kind === 'primitive' && node.type === 'null') return { type: node, nullable: false };
  if (node.kind !== 'union') return { type: node, nullable: false };
  const rest = node.members.filter((member) => !(member.kind === 'primitive' && member.type === 'null'));
  if (rest.length === node.members.length) return { type: node, nullable: false };
  return { type: rest.length === 1 ? rest[0] : { kind: 'union', members: rest }, nullable: true };
}
