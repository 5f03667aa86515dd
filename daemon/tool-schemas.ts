// JSON Schema checks of tool calls: each declared tool's `parameters` (and `outputSchema`) compiled once by ajv,
// cached by the schema's text, and run on the arguments the sandboxed code chose (hostile) and on the client's
// results. What hostile values can make a check cost is bounded: patterns run on a linear-time engine (RE2JS,
// pure JavaScript: no backtracking, so `^(a+)+$` costs one pass), and uniqueItems is checked in one pass instead
// of ajv's comparison of every pair. A failure is one message naming the tool, the field and the rule.
// Part of the wire layer: the SDK checks the arguments an approval changed with these same rules and messages
// (sdk/argument-checks.ts), so that the code cannot tell which side refused a call.
import { createRequire } from 'node:module';
import { Ajv2020, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { RE2JS } from 're2js';

const draft07 = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as AnySchemaObject;

/** Compiled schemas kept, least recently used dropped first. */
export const DEFAULT_MAX_CACHED_SCHEMAS = 512;
/** Schemas compiled by one ajv instance before a fresh one takes over (ajv keeps what each compile adds for good). */
const COMPILES_PER_INSTANCE = 2048;
/** A failure message is cut here; a field path at this many characters. */
const MAX_MESSAGE_CHARS = 1000;
const MAX_PATH_CHARS = 256;
const MAX_SEGMENT_CHARS = 64;

/** The RegExp ajv's generated code uses for `pattern` and `patternProperties`: RE2's linear-time matching. */
function linearRegExp(pattern: string, flags: string): { test(text: string): boolean; toString(): string } {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (error) {
    throw new Error(`pattern ${JSON.stringify(pattern.slice(0, 200))} is not supported (the daemon matches patterns in linear time with RE2 syntax: no lookahead, lookbehind or backreferences): ${(error as Error).message}`);
  }
  // ajv caches compiled patterns under this text: it must be the pattern's own.
  return { test: (text) => compiled.test(text), toString: () => `/${pattern}/${flags}` };
}
linearRegExp.code = 'linearRegExp';

// uniqueItems in one pass: each item's canonical JSON (object keys sorted) in a Map. ajv compares every pair of
// items that are objects or arrays, which 20,000 `{}` turn into seconds of the daemon's main thread.
function uniqueItems(this: unknown, unique: boolean, data: unknown[]): boolean {
  const check = uniqueItems as unknown as { errors: Partial<ErrorObject>[] | null };
  check.errors = null;
  if (!unique) return true;
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const key = canonicalJson(data[i]);
    const j = seen.get(key);
    if (j !== undefined) {
      check.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, params: { i, j } }];
      return false;
    }
    seen.set(key, i);
  }
  return true;
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  return `{${Object.keys(object).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`;
}

function newAjv(): Ajv2020 {
  // strict off: tool schemas carry keywords of their own (MCP's, OpenAPI's); unknown formats are not checked.
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: true, addUsedSchema: false, logger: false, code: { regExp: linearRegExp } });
  // Schemas written for draft-07 (most tool schemas) keep their `$schema`; they are read by the 2020-12 rules.
  ajv.addMetaSchema(draft07);
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: uniqueItems });
  return ajv;
}

// Compiles JSON Schemas with the checks above, keeping the last ones used by their text: tool declarations repeat
// from one execution to the next, and compiling one costs about a millisecond of the main thread.
export class SchemaCompiler {
  /** Made on the first compile: an ajv instance costs milliseconds to build, and most executions declare no tool. */
  private ajv: Ajv2020 | undefined;
  private compiles = 0;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(private readonly maxCached = DEFAULT_MAX_CACHED_SCHEMAS) {}

  /** Compiled schemas held now. */
  get size(): number {
    return this.cache.size;
  }

  // The validator of a schema; throws an Error with ajv's message when the schema does not compile.
  compile(schema: Record<string, unknown>): ValidateFunction {
    const key = JSON.stringify(schema);
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    if (this.ajv === undefined || this.compiles >= COMPILES_PER_INSTANCE) {
      // What an old instance holds goes with the validators compiled by it, as the cache drops them.
      this.ajv = newAjv();
      this.compiles = 0;
    }
    this.compiles += 1;
    const ajv = this.ajv;
    // ajv holds each schema object it compiled; this copy is dropped from it once compiled.
    const copy = structuredClone(schema);
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(copy);
    } finally {
      ajv.removeSchema(copy);
    }
    this.cache.set(key, validate);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    return validate;
  }
}

/** The compiled checks of one execution's tools, by tool name. */
export interface ToolValidators {
  readonly args?: ValidateFunction;
  readonly result?: ValidateFunction;
}

// Runs a validator on a value: null when it holds, else the message naming the tool, field path and rule, e.g.
// `get_user: arguments.user_id must be string (type)`.
export function checkValue(validate: ValidateFunction, value: unknown, tool: string, what: 'arguments' | 'result'): string | null {
  if (validate(value)) return null;
  const error = validate.errors?.[0];
  if (!error) return `${tool}: ${what} do not match the schema`;
  return describeError(error, tool, what);
}

// One ajv error as a message: `<tool>: <what><path> <ajv's message> (<keyword>)`, with the name of an extra
// property for additionalProperties, cut to MAX_MESSAGE_CHARS.
export function describeError(error: ErrorObject, tool: string, what: string): string {
  const path = fieldPath(error.instancePath);
  const extra = error.keyword === 'additionalProperties' ? `: ${quoteName(String((error.params as { additionalProperty?: unknown }).additionalProperty))}` : '';
  const message = `${tool}: ${what}${path} ${error.message ?? 'is not valid'} (${error.keyword}${extra})`;
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}…` : message;
}

// A JSON pointer (`/orders/0/user id`) as the code would write the field: `.orders[0]["user id"]`.
function fieldPath(pointer: string): string {
  if (pointer === '') return '';
  let path = '';
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(0|[1-9][0-9]*)$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment) && segment.length <= MAX_SEGMENT_CHARS) path += `.${segment}`;
    else path += `[${quoteName(segment)}]`;
    if (path.length > MAX_PATH_CHARS) return `${path.slice(0, MAX_PATH_CHARS)}…`;
  }
  return path;
}

function quoteName(name: string): string {
  return JSON.stringify(name.length > MAX_SEGMENT_CHARS ? `${name.slice(0, MAX_SEGMENT_CHARS)}…` : name);
}
