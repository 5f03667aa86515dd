// Pure validation of an execution request (HTTP body or WebSocket `execute`), shared by both APIs.
// Every failure is a WireError whose message names the field, what was expected and what was received.
import type { Config } from '../config.js';
import { describeReceived, WireError } from '../errors.js';
import type { ToolBudgets, ToolDeclaration } from '../wire-types.js';
import { decodeInputFiles, type InputFile } from '../files/inputs.js';
import { isRuntimeName, RUNTIMES, type RuntimeName } from '../sandbox/runtimes.js';
import { RESERVED_TOOL_PREFIX } from '../bridge/tool-router.js';
import { parseToolBudgets } from '../bridge/call-budgets.js';
import { SchemaCompiler, type ToolValidators } from '../tool-schemas.js';
import { parseInputs } from './inputs.js';
import { PROTOCOL, toolNamePattern } from '../protocol.js';
import { resolveLimits, type ExecutionLimits, type LowerableLimit } from './limits.js';

export interface ExecutionRequest {
  readonly runtime: RuntimeName;
  readonly code: string;
  readonly files: readonly InputFile[];
  readonly timeoutMs: number;
  readonly tools: readonly ToolDeclaration[];
  /** JSON values the code reads as variables of these names. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** The configured limits, lowered where the request asked. */
  readonly limits: ExecutionLimits;
  /** The session whose workspace and packages the execution uses (shaped like an id; existence is checked later). */
  readonly sessionId: string | null;
  /** The compiled schemas of the tools, by name: arguments always, results unless validateResults is false. */
  readonly validators: ReadonlyMap<string, ToolValidators>;
  /** Check the client's results against the tools' outputSchema. */
  readonly validateResults: boolean;
  /** What the code may spend on its tools. */
  readonly budgets: ToolBudgets;
  /** Python: matplotlib figures left open or shown come back as PNG files. */
  readonly captureFigures: boolean;
}

const TOOL_NAME = toolNamePattern(PROTOCOL.maxToolNameChars);
const FIELDS = new Set(['runtime', 'code', 'files', 'timeoutMs', 'tools', 'inputs', 'limits', 'sessionId', 'budgets', 'validateResults', 'captureFigures']);

export type RequestLimits = Pick<Config, 'defaultTimeoutMs' | 'maxTimeoutMs' | 'maxCodeBytes' | 'maxFileBytes' | 'maxTotalFileBytes' | LowerableLimit>;

// Checks and normalizes a request; `envelope` lists extra fields the transport itself uses (`type`, `id`). The
// tools' schemas are compiled here (by `schemas`, which caches them), so one that does not compile refuses it.
export function parseExecutionRequest(
  body: unknown,
  limits: RequestLimits,
  options: { toolsAllowed: boolean; envelope?: readonly string[]; schemas?: SchemaCompiler },
): ExecutionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WireError('invalid_request', `expected a JSON object, received ${describeReceived(body)}`);
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.has(key) && !options.envelope?.includes(key));
  if (unknown.length > 0) {
    throw new WireError('invalid_request', `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; expected ${[...FIELDS].join(', ')}`);
  }
  const { runtime, code } = fields;
  if (!isRuntimeName(runtime)) {
    throw new WireError('invalid_request', `runtime: expected ${RUNTIMES.map((r) => `"${r}"`).join(' or ')}, received ${describeReceived(runtime)}`);
  }
  if (typeof code !== 'string') throw new WireError('invalid_request', `code: expected a string, received ${describeReceived(code)}`);
  const codeBytes = Buffer.byteLength(code);
  if (codeBytes > limits.maxCodeBytes) {
    throw new WireError('payload_too_large', `code: ${codeBytes} bytes exceeds maxCodeBytes ${limits.maxCodeBytes}`);
  }
  const tools = parseTools(fields.tools, options.toolsAllowed);
  const { validateResults = true } = fields;
  if (typeof validateResults !== 'boolean') throw new WireError('invalid_request', `validateResults: expected true or false, received ${describeReceived(validateResults)}`);
  const budgets = parseToolBudgets(fields.budgets, tools.map((tool) => tool.name));
  return {
    runtime,
    code,
    files: decodeInputFiles(fields.files, limits),
    timeoutMs: parseTimeout(fields.timeoutMs, limits),
    tools,
    inputs: parseInputs(fields.inputs, tools),
    limits: resolveLimits(fields.limits, limits),
    sessionId: parseSessionId(fields.sessionId),
    validators: compileSchemas(tools, options.schemas ?? new SchemaCompiler(), validateResults),
    validateResults,
    budgets,
    captureFigures: parseBoolean('captureFigures', fields.captureFigures, true),
  };
}

// The validators of each tool's parameters (and outputSchema, when results are checked); a schema that does not
// compile refuses the request, naming it and ajv's reason.
function compileSchemas(tools: readonly ToolDeclaration[], schemas: SchemaCompiler, withResults: boolean): Map<string, ToolValidators> {
  const compile = (schema: Record<string, unknown>, where: string) => {
    try {
      return schemas.compile(schema);
    } catch (error) {
      throw new WireError('invalid_request', `${where}: ${(error as Error).message}`.slice(0, 2000));
    }
  };
  return new Map(tools.map((tool, index) => {
    const args = compile(tool.parameters, `tools[${index}].parameters`);
    const result = withResults && tool.outputSchema ? compile(tool.outputSchema, `tools[${index}].outputSchema`) : undefined;
    return [tool.name, result ? { args, result } : { args }];
  }));
}

function parseSessionId(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string') throw new WireError('invalid_request', `sessionId: expected a string from POST /v1/sessions, received ${describeReceived(raw)}`);
  return raw;
}

function parseBoolean(field: string, raw: unknown, fallback: boolean): boolean {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'boolean') throw new WireError('invalid_request', `${field}: expected true or false, received ${describeReceived(raw)}`);
  return raw;
}

function parseTimeout(raw: unknown, limits: RequestLimits): number {
  if (raw === undefined || raw === null) return limits.defaultTimeoutMs;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) {
    throw new WireError('invalid_request', `timeoutMs: expected an integer ≥ 1, received ${describeReceived(raw)}`);
  }
  if (raw > limits.maxTimeoutMs) {
    throw new WireError('limit_exceeded', `timeoutMs: ${raw} exceeds the configured maximum ${limits.maxTimeoutMs}; a request may lower limits, never raise them`);
  }
  return raw;
}

function parseTools(raw: unknown, toolsAllowed: boolean): ToolDeclaration[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new WireError('invalid_request', `tools: expected an array, received ${describeReceived(raw)}`);
  if (raw.length > 0 && !toolsAllowed) {
    throw new WireError('invalid_request', 'tools: plain HTTP has no client to answer tool calls; use the WebSocket API (/v1/ws) or the SDK');
  }
  if (raw.length > PROTOCOL.maxTools) throw new WireError('invalid_request', `tools: ${raw.length} tools; at most ${PROTOCOL.maxTools} (maxTools)`);
  const names = new Set<string>();
  return raw.map((entry: unknown, index) => {
    const where = `tools[${index}]`;
    if (!isSchemaObject(entry)) throw new WireError('invalid_request', `${where}: expected an object {name, description, parameters, outputSchema, stub}`);
    const { name, description, parameters, outputSchema, stub } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
      throw new WireError('invalid_request', `${where}.name: expected 1-${PROTOCOL.maxToolNameChars} characters of [A-Za-z0-9_.-] starting with a letter or _, received ${describeReceived(name)}`);
    }
    if (name.startsWith(RESERVED_TOOL_PREFIX)) throw new WireError('invalid_request', `${where}.name: "${name}" starts with "${RESERVED_TOOL_PREFIX}", which is reserved for the daemon's own tools`);
    if (names.has(name)) throw new WireError('invalid_request', `${where}.name: "${name}" is declared twice`);
    names.add(name);
    if (description !== undefined && typeof description !== 'string') throw new WireError('invalid_request', `${where}.description: expected a string, received ${describeReceived(description)}`);
    if (parameters !== undefined && !isSchemaObject(parameters)) {
      throw new WireError('invalid_request', `${where}.parameters: expected a JSON Schema object, received ${describeReceived(parameters)}`);
    }
    if (outputSchema !== undefined && outputSchema !== null && !isSchemaObject(outputSchema)) {
      throw new WireError('invalid_request', `${where}.outputSchema: expected a JSON Schema object, received ${describeReceived(outputSchema)}`);
    }
    const declaration: ToolDeclaration = { name, description: description ?? '', parameters: (parameters as Record<string, unknown>) ?? { type: 'object', properties: {} } };
    if (isSchemaObject(outputSchema)) declaration.outputSchema = outputSchema;
    const checkedStub = parseStub(stub, where);
    if (checkedStub !== undefined) declaration.stub = checkedStub;
    return declaration;
  });
}

// A declaration's `stub` (the SDK's rendering, which describe_tool returns in the sandbox): a string of at most
// maxToolStubBytes, or absent.
function parseStub(stub: unknown, where: string): string | undefined {
  if (stub === undefined || stub === null) return undefined;
  if (typeof stub !== 'string') throw new WireError('invalid_request', `${where}.stub: expected a string, received ${describeReceived(stub)}`);
  const bytes = Buffer.byteLength(stub);
  if (bytes > PROTOCOL.maxToolStubBytes) throw new WireError('invalid_request', `${where}.stub: ${bytes} bytes; at most ${PROTOCOL.maxToolStubBytes} (maxToolStubBytes)`);
  return stub;
}

// A JSON object (what a schema must at least be): not null, not an array.
function isSchemaObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
