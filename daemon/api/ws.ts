// /v1/ws: one client connection carrying many executions, their streamed output, and their tool calls.
// A malformed message gets an `error` message and the connection stays usable; when the connection
// closes, its running executions are cancelled.
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import { toWireError, WireError } from '../errors.js';
import { ClientToolRouter } from '../bridge/client-tools.js';
import type { Execution } from '../executions/execution.js';
import { describe, parseExecutionRequest } from '../executions/request.js';
import type { ExecutionService } from '../executions/service.js';
import { checkRuntimeAvailable, type RuntimeAvailability } from './availability.js';

export interface WsDeps {
  readonly config: Config;
  readonly service: ExecutionService;
  readonly availability: RuntimeAvailability;
  readonly logger: Logger;
}

const MAX_ID_LENGTH = 128;

// Serves one WebSocket connection until it closes.
export function handleWsConnection(ws: WebSocket, deps: WsDeps): void {
  const log = deps.logger;
  const executions = new Map<string, Execution>();
  const send = (message: object): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const router = new ClientToolRouter(send, deps.config.maxToolCallBytes);

  const onMessage = (data: Buffer, isBinary: boolean): void => {
    let id: string | undefined;
    let callId: string | undefined;
    try {
      const message = parseMessage(data, isBinary);
      id = typeof message.id === 'string' ? message.id : undefined;
      callId = typeof message.callId === 'string' ? message.callId : undefined;
      switch (message.type) {
        case 'execute':
          return startExecution(message);
        case 'tool_result':
          return answerToolCall(message, data.length);
        case 'cancel':
          return cancelExecution(message);
        default:
          throw new WireError('invalid_request', `type: expected "execute", "tool_result" or "cancel", received ${describe(message.type)}`);
      }
    } catch (error) {
      if (!(error instanceof WireError)) log.error({ err: error }, 'websocket message failed');
      const wire = toWireError(error);
      send({ type: 'error', ...(id !== undefined ? { id } : {}), ...(callId !== undefined ? { callId } : {}), code: wire.code, message: wire.message });
    }
  };

  const startExecution = (message: Record<string, unknown>): void => {
    const id = checkId(message.id);
    if (executions.has(id)) throw new WireError('duplicate_id', `id ${JSON.stringify(id)} is already running on this connection`);
    const request = parseExecutionRequest(message, deps.config, { toolsAllowed: true, envelope: ['type', 'id'] });
    checkRuntimeAvailable(deps.availability, request.runtime);
    const { execution, result } = deps.service.start(request, {
      toolHost: router.hostFor(id),
      onOutput: (stream, data) => send({ type: stream, id, data }),
    });
    executions.set(id, execution);
    result
      .then((answer) => send({ type: 'result', id, ...answer }))
      .catch((error: unknown) => {
        log.error({ err: error, id }, 'execution failed inside the daemon');
        send({ type: 'error', id, code: 'internal_error', message: 'Internal error' });
      })
      .finally(() => executions.delete(id));
  };

  const answerToolCall = (message: Record<string, unknown>, bytes: number): void => {
    const { callId } = message;
    if (typeof callId !== 'string' || callId === '') throw new WireError('invalid_request', `callId: expected a string, received ${describe(callId)}`);
    const hasResult = 'result' in message;
    const hasError = 'error' in message && message.error !== null && message.error !== undefined;
    if (hasResult === hasError) {
      // Fail the waiting call too, so the code gets a clear error instead of waiting for its timeout.
      router.answer(callId, { error: 'the client sent a malformed tool_result (expected exactly one of "result" or "error")' });
      throw new WireError('invalid_request', `tool_result ${callId}: expected exactly one of "result" or "error"`);
    }
    const delivered = router.answer(callId, hasError ? { error: message.error } : { result: message.result }, bytes);
    if (!delivered) throw new WireError('unknown_call', `no pending tool call has callId ${JSON.stringify(callId)} (unknown, already answered, or its execution ended)`);
  };

  const cancelExecution = (message: Record<string, unknown>): void => {
    const id = checkId(message.id);
    const execution = executions.get(id);
    if (!execution) throw new WireError('unknown_execution', `no running execution has id ${JSON.stringify(id)} on this connection`);
    execution.cancel();
  };

  ws.on('message', (data, isBinary) => onMessage(data as Buffer, isBinary));
  ws.on('error', (error) => log.warn({ err: error }, 'websocket error'));
  ws.on('close', () => {
    for (const execution of executions.values()) execution.cancel();
  });
}

function parseMessage(data: Buffer, isBinary: boolean): Record<string, unknown> {
  if (isBinary) throw new WireError('invalid_request', 'binary frames are not accepted; send JSON text');
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new WireError('invalid_json', `the message is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError('invalid_request', `expected a JSON object, received ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > MAX_ID_LENGTH) {
    throw new WireError('invalid_request', `id: expected a string of 1-${MAX_ID_LENGTH} characters, received ${describe(id)}`);
  }
  return id;
}
