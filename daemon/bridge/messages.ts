// The bridge's message shapes (docs/protocol.md, "The bridge") and a strict parser for what the prelude sends.
// The prelude runs beside hostile code, so every inbound message is checked as untrusted input.
import type { CodeErrorCode } from '../errors.js';
import { PROTOCOL } from '../protocol.js';
import type { CodeError, ToolDeclaration } from '../wire-types.js';
import { jsonNestsDeeper, topLevelStrings, topLevelValueRange } from './json-scan.js';


export type BridgeOutbound =
  | { type: 'preload'; modules: readonly string[] }
  | {
      type: 'run'; code: string; tools: readonly ToolDeclaration[]; inputs?: Readonly<Record<string, unknown>>; installs?: RunInstalls | null;
      /** Node: the trailing expression to return (`;return (` at start, `)` at end; UTF-16 offsets of `code`). */
      resultExpression?: { start: number; end: number };
      /** Python: save matplotlib figures left open or shown as PNG files (true when left out). */
      captureFigures?: boolean;
    }
  | { type: 'tool_result'; callId: string; result: unknown }
  | { type: 'tool_result'; callId: string; error: { code: CodeErrorCode; message: string } };


/** What the prelude is told about installs, for its hints and install-on-import (null: the daemon installs nothing). */
export interface RunInstalls {
  /** A missing top-level import of the code's own installs its distribution (config installOnImport). */
  readonly onImport: boolean;
  /** The operator's packageAllow and packageDeny, so a hint never suggests an install that would be refused. */
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** What a `done` reports. */
export interface DoneReport {
  readonly result: unknown;
  readonly files: unknown;
  readonly error: CodeError | null;
  /** The status the interpreter is about to exit with (0–255), or null when the message gave none: the execution
   * then ends when the process exits rather than at this report. */
  readonly exitCode: number | null;
}

/** The start of a tool call's arguments as JSON text (read from the message's bytes, never parsed), and their size. */
export interface ArgsText {
  /** At most the bytes asked for, cut at a character's end. */
  readonly text: string;
  /** Bytes of the arguments' JSON text in all (0 when the message has none). */
  readonly bytes: number;
}

/** A payload parsed on demand: its value, or why it is not valid. */
export type Payload<T> = { value: T } | { problem: string };

/**
 * A message from the prelude with its envelope checked. Its payload (a tool call's arguments, a done's report)
 * is parsed only when it is used: a call that is refused anyway (unknown tool, over a limit, no client to
 * answer) and a second `done` cost no parse at all.
 */
export type BridgeInbound =
  /** `refusal`, when set, is why the call is answered with an error at once and never reaches a client. */
  | { type: 'tool_call'; callId: string; name: string; bytes: number; refusal?: string; readArgs(): Payload<unknown>; argsText(maxBytes: number): ArgsText }
  | { type: 'done'; bytes: number; read(): Payload<DoneReport> };

const MAX_CALL_ID_LENGTH = 64;
const MAX_NAME_LENGTH = 256;
/** A message may nest one level deeper than its values: the message object itself. */
const MAX_MESSAGE_DEPTH = PROTOCOL.maxJsonDepth + 1;
const TOO_DEEP = `nested more than ${PROTOCOL.maxJsonDepth} levels deep (maxJsonDepth)`;

// Checks one frame from the prelude; returns the message or a problem naming what was wrong. Depth is measured
// on the bytes first, and the envelope (type, callId, name) read without parsing the rest: a tool call whose
// arguments nest too deep is refused to the code, a `done` whose result does becomes the execution's error, and
// neither is ever built or passed on.
export function parseBridgeMessage(data: Buffer, isBinary: boolean): { message: BridgeInbound } | { problem: string } {
  if (isBinary) return { problem: 'binary frame on the bridge; expected JSON text' };
  const tooDeep = jsonNestsDeeper(data, MAX_MESSAGE_DEPTH);
  const fields = topLevelStrings(data);
  const type = fields.get('type');
  if (type === 'tool_call') {
    const checked = checkCall(fields.get('callId'), fields.get('name'));
    if ('problem' in checked) return checked;
    const argsText = (maxBytes: number) => readArgsText(data, maxBytes);
    if (tooDeep) return { message: { type: 'tool_call', ...checked, bytes: data.length, refusal: `the arguments of ${checked.name} are ${TOO_DEEP}`, readArgs: () => ({ value: null }), argsText } };
    return { message: { type: 'tool_call', ...checked, bytes: data.length, readArgs: () => readArgs(data), argsText } };
  }
  if (type === 'done') {
    if (tooDeep) {
      const error: CodeError = { type: 'BridgeError', message: `the result the code sent over its bridge is ${TOO_DEEP}; it was refused`, traceback: '' };
      return { message: { type: 'done', bytes: data.length, read: () => ({ value: { result: null, files: [], error, exitCode: null } }) } };
    }
    return { message: { type: 'done', bytes: data.length, read: () => readDone(data) } };
  }
  if (data[firstNonSpace(data)] !== 0x7b) return { problem: 'bridge message is not a JSON object' };
  if (tooDeep) return { problem: `a bridge message is ${TOO_DEEP}` };
  return { problem: `unknown bridge message type ${JSON.stringify(String(type)).slice(0, 80)} (or not valid JSON)` };
}

function readArgs(data: Buffer): Payload<unknown> {
  const message = parseObject(data);
  return 'problem' in message ? message : { value: message.value.args ?? {} };
}

function readArgsText(data: Buffer, maxBytes: number): ArgsText {
  const range = topLevelValueRange(data, 'args');
  if (!range) return { text: '', bytes: 0 };
  const end = Math.min(range.end, range.start + maxBytes);
  // A character cut in two decodes as U+FFFD at the end; it is dropped.
  const text = data.toString('utf8', range.start, end);
  return { text: end < range.end ? text.replace(/\uFFFD$/, '') : text, bytes: range.end - range.start };
}

function readDone(data: Buffer): Payload<DoneReport> {
  const message = parseObject(data);
  if ('problem' in message) return message;
  const { result, files, error, exitCode } = message.value;
  const status = Number.isInteger(exitCode) && (exitCode as number) >= 0 && (exitCode as number) <= 255 ? (exitCode as number) : null;
  return { value: { result: result ?? null, files: files ?? [], error: parseCodeError(error), exitCode: status } };
}

function parseObject(data: Buffer): Payload<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return { problem: 'bridge message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'bridge message is not a JSON object' };
  return { value: value as Record<string, unknown> };
}

function firstNonSpace(data: Buffer): number {
  let i = 0;
  while (data[i] === 0x20 || data[i] === 0x09 || data[i] === 0x0a || data[i] === 0x0d) i += 1;
  return i;
}

function checkCall(callId: unknown, name: unknown): { callId: string; name: string } | { problem: string } {
  if (typeof callId !== 'string' || callId === '' || callId.length > MAX_CALL_ID_LENGTH) return { problem: 'tool_call.callId: expected a short string' };
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) return { problem: 'tool_call.name: expected a tool name' };
  return { callId, name };
}

// The error part of `done`, with every field forced to a string so a forged one cannot break the result.
function parseCodeError(raw: unknown): CodeError | null {
  if (raw === null || raw === undefined) return null;
  const error = (typeof raw === 'object' ? raw : { message: String(raw) }) as Record<string, unknown>;
  const text = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
  return { type: text(error.type, 'Error'), message: text(error.message, ''), traceback: text(error.traceback, '') };
}
