// The bridge's message shapes (docs/protocol.md, "The bridge") and a strict parser for what the prelude sends.
// The prelude runs beside hostile code, so every inbound message is checked as untrusted input.

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
  | { type: 'tool_call'; callId: string; name: string; args: unknown; bytes: number }
  | { type: 'done'; result: unknown; files: unknown; error: CodeError | null };

const MAX_CALL_ID_LENGTH = 64;
const MAX_NAME_LENGTH = 256;

// Parses one frame from the prelude; returns the message or a problem naming what was wrong.
export function parseBridgeMessage(data: Buffer, isBinary: boolean): { message: BridgeInbound } | { problem: string } {
  if (isBinary) return { problem: 'binary frame on the bridge; expected JSON text' };
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return { problem: 'bridge message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'bridge message is not a JSON object' };
  const message = value as Record<string, unknown>;
  if (message.type === 'tool_call') {
    const { callId, name, args } = message;
    if (typeof callId !== 'string' || callId === '' || callId.length > MAX_CALL_ID_LENGTH) return { problem: 'tool_call.callId: expected a short string' };
    if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) return { problem: 'tool_call.name: expected a tool name' };
    return { message: { type: 'tool_call', callId, name, args: args ?? {}, bytes: data.length } };
  }
  if (message.type === 'done') {
    return { message: { type: 'done', result: message.result ?? null, files: message.files ?? [], error: parseCodeError(message.error) } };
  }
  return { problem: `unknown bridge message type ${JSON.stringify(String(message.type)).slice(0, 80)}` };
}

// The error part of `done`, with every field forced to a string so a forged one cannot break the result.
function parseCodeError(raw: unknown): CodeError | null {
  if (raw === null || raw === undefined) return null;
  const error = (typeof raw === 'object' ? raw : { message: String(raw) }) as Record<string, unknown>;
  const text = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
  return { type: text(error.type, 'Error'), message: text(error.message, ''), traceback: text(error.traceback, '') };
}
