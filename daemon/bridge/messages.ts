// The bridge's message shapes (docs/protocol.md, "The bridge") and a strict parser for what the prelude sends.
// The prelude runs beside hostile code, so every inbound message is checked as untrusted input.
import { PROTOCOL } from '../protocol.js';
import { jsonNestsDeeper, topLevelStrings } from './json-scan.js';

export interface ToolDeclaration {
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

export type BridgeOutbound =
  | { type: 'preload'; modules: readonly string[] }
  | { type: 'run'; code: string; tools: readonly ToolDeclaration[] }
  | { type: 'tool_result'; callId: string; result: unknown }
  | { type: 'tool_result'; callId: string; error: { code: string; message: string } };

export interface CodeError {
  readonly type: string;
  readonly message: string;
  readonly traceback: string;
}

export type BridgeInbound =
  /** `refusal`, when set, is why the call is answered with an error at once and never reaches a client. */
  | { type: 'tool_call'; callId: string; name: string; args: unknown; bytes: number; refusal?: string }
  | { type: 'done'; result: unknown; files: unknown; error: CodeError | null };

const MAX_CALL_ID_LENGTH = 64;
const MAX_NAME_LENGTH = 256;
/** A message may nest one level deeper than its values: the message object itself. */
const MAX_MESSAGE_DEPTH = PROTOCOL.maxJsonDepth + 1;
const TOO_DEEP = `nested more than ${PROTOCOL.maxJsonDepth} levels deep (maxJsonDepth)`;

// Parses one frame from the prelude; returns the message or a problem naming what was wrong. Its depth is checked
// on the bytes before anything is parsed: a tool call whose arguments nest too deep is refused to the code, a
// `done` whose result does becomes the execution's error, and neither is ever built or passed on.
export function parseBridgeMessage(data: Buffer, isBinary: boolean): { message: BridgeInbound } | { problem: string } {
  if (isBinary) return { problem: 'binary frame on the bridge; expected JSON text' };
  if (jsonNestsDeeper(data, MAX_MESSAGE_DEPTH)) return parseTooDeep(data);
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return { problem: 'bridge message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'bridge message is not a JSON object' };
  const message = value as Record<string, unknown>;
  if (message.type === 'tool_call') {
    const checked = checkCall(message.callId, message.name);
    if ('problem' in checked) return checked;
    return { message: { type: 'tool_call', ...checked, args: message.args ?? {}, bytes: data.length } };
  }
  if (message.type === 'done') {
    return { message: { type: 'done', result: message.result ?? null, files: message.files ?? [], error: parseCodeError(message.error) } };
  }
  return { problem: `unknown bridge message type ${JSON.stringify(String(message.type)).slice(0, 80)}` };
}

// A message too deep to parse, read only for what answering it takes: its type, and a tool call's id and name.
function parseTooDeep(data: Buffer): { message: BridgeInbound } | { problem: string } {
  const fields = topLevelStrings(data);
  const type = fields.get('type');
  if (type === 'tool_call') {
    const checked = checkCall(fields.get('callId'), fields.get('name'));
    if ('problem' in checked) return checked;
    return { message: { type: 'tool_call', ...checked, args: null, bytes: data.length, refusal: `the arguments of ${checked.name} are ${TOO_DEEP}` } };
  }
  if (type === 'done') {
    const error: CodeError = { type: 'BridgeError', message: `the result the code sent over its bridge is ${TOO_DEEP}; it was refused`, traceback: '' };
    return { message: { type: 'done', result: null, files: [], error } };
  }
  return { problem: `a bridge message is ${TOO_DEEP}` };
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
