// /v1/ws: one client connection carrying many executions, their streamed output, and their tool calls.
// A malformed message gets an `error` message and the connection stays usable; when the connection
// closes, its executions (running or queued) are cancelled. A client that does not read cannot make the daemon
// buffer without bound: past streamPauseBytes unsent, streamed output is dropped (the result still carries it
// all), and past maxBufferedBytes the connection is closed with 1008.
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import { describeReceived, toWireError, WireError } from '../errors.js';
import type { DaemonMessage, ToolApproval } from '../wire-types.js';
import { ClientToolRouter } from '../bridge/client-tools.js';
import { SchemaCompiler } from '../tool-schemas.js';
import { parseExecutionRequest } from '../executions/request.js';
import type { ExecutionService, StartedExecution } from '../executions/service.js';
import { checkRuntimeAvailable, type DaemonState } from './availability.js';
import { checkJsonDepth, MAX_JSON_DEPTH } from './body.js';

export interface WsDeps {
  /** streamPauseBytes, maxBufferedBytes and pingIntervalMs bound what the connection may cost. */
  readonly config: Config;
  readonly service: ExecutionService;
  readonly state: DaemonState;
  /** The connection's logger (with the upgrade's requestId); its executions log as its children. */
  readonly logger: Logger;
  /** Compiles (and caches) the tools' schemas. @default a compiler of this connection's own */
  readonly schemas?: SchemaCompiler;
}

const MAX_ID_LENGTH = 128;
const MAX_APPROVAL_REASON_CHARS = 1000;
const APPROVAL_DECISIONS = ['approved', 'modified', 'denied'] as const;
/** The close code for a client that lets too much data pile up unread (policy violation). */
const SLOW_CLIENT_CLOSE_CODE = 1008;
/** How long a slow client's close handshake may take before its socket is cut (it is not reading, after all). */
const SLOW_CLIENT_CLOSE_MS = 2000;

// Serves one WebSocket connection until it closes.
export function handleWsConnection(ws: WebSocket, deps: WsDeps): void {
  const log = deps.logger;
  const { streamPauseBytes, maxBufferedBytes, pingIntervalMs } = deps.config;
  const executions = new Map<string, StartedExecution>();
  let droppedChunks = 0;
  // Sends a message unless the client has left too much unread, which closes the connection instead.
  const send = (message: DaemonMessage): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBufferedBytes) return closeSlowClient();
    ws.send(JSON.stringify(message));
  };
  // Streamed output is a convenience: a client reading too slowly misses chunks, never the result.
  const sendOutput = (message: { type: 'stdout' | 'stderr'; id: string; data: string }): void => {
    if (ws.bufferedAmount > streamPauseBytes) {
      if (droppedChunks++ === 0) log.info({ bufferedBytes: ws.bufferedAmount }, 'client reads slowly; dropping streamed output (results still carry it)');
      return;
    }
    send(message);
  };
  const closeSlowClient = (): void => {
    if (ws.readyState !== ws.OPEN) return;
    log.warn({ bufferedBytes: ws.bufferedAmount, maxBufferedBytes }, 'closing a WebSocket client that does not read its messages');
    for (const started of executions.values()) started.cancel();
    ws.close(SLOW_CLIENT_CLOSE_CODE, 'the client is not reading: too much unsent data');
    setTimeout(() => ws.terminate(), SLOW_CLIENT_CLOSE_MS).unref();
  };
  const router = new ClientToolRouter(send, deps.config.maxToolCallBytes);
  const schemas = deps.schemas ?? new SchemaCompiler();

  const onMessage = (data: Buffer, isBinary: boolean): void => {
    let id: string | undefined;
    let callId: string | undefined;
    try {
      const message = parseMessage(data, isBinary);
      id = typeof message.id === 'string' ? message.id : undefined;
      callId = typeof message.callId === 'string' ? message.callId : undefined;
      try {
        checkJsonDepth(message, 'the message');
      } catch (error) {
        // A tool result too deep to pass on still fails its call, so the code does not wait for its timeout.
        if (message.type === 'tool_result' && callId !== undefined) router.answer(callId, { error: `the client's tool result is nested more than ${MAX_JSON_DEPTH} levels deep` });
        throw error;
      }
      switch (message.type) {
        case 'execute':
          return startExecution(message);
        case 'tool_result':
          return answerToolCall(message, data.length);
        case 'cancel':
          return cancelExecution(message);
        default:
          throw new WireError('invalid_request', `type: expected "execute", "tool_result" or "cancel", received ${describeReceived(message.type)}`);
      }
    } catch (error) {
      if (!(error instanceof WireError)) log.error({ err: error }, 'websocket message failed');
      const wire = toWireError(error);
      send({
        type: 'error',
        ...(id !== undefined ? { id } : {}),
        ...(callId !== undefined ? { callId } : {}),
        code: wire.code,
        message: wire.message,
        ...(wire.retryAfterMs !== undefined ? { retryAfterMs: wire.retryAfterMs } : {}),
      });
    }
  };

  const startExecution = (message: Record<string, unknown>): void => {
    const id = checkId(message.id);
    if (executions.has(id)) throw new WireError('duplicate_id', `id ${JSON.stringify(id)} is already running on this connection`);
    const request = parseExecutionRequest(message, deps.config, { toolsAllowed: true, envelope: ['type', 'id'], schemas });
    checkRuntimeAvailable(deps.state, request.runtime);
    const toolHost = router.hostFor(id);
    let started: StartedExecution;
    try {
      started = deps.service.start(request, { toolHost, logger: log, onOutput: (stream, data) => sendOutput({ type: stream, id, data }) });
    } catch (error) {
      toolHost.dispose();
      throw error;
    }
    executions.set(id, started);
    started.result
      .then((answer) => send({ type: 'result', id, ...answer }))
      .catch((error: unknown) => {
        // A refusal found once the execution's turn came (an input file blocked by a link in a session
        // workspace) is the client's to know; anything else is ours, and only logged.
        if (!(error instanceof WireError)) log.error({ err: error, id }, 'execution failed inside the daemon');
        const wire = toWireError(error);
        send({ type: 'error', id, code: wire.code, message: wire.message });
      })
      .finally(() => executions.delete(id));
  };

  const answerToolCall = (message: Record<string, unknown>, bytes: number): void => {
    const { callId } = message;
    if (typeof callId !== 'string' || callId === '') throw new WireError('invalid_request', `callId: expected a string, received ${describeReceived(callId)}`);
    const hasResult = 'result' in message;
    const hasError = 'error' in message && message.error !== null && message.error !== undefined;
    if (hasResult === hasError) {
      // Fail the waiting call too, so the code gets a clear error instead of waiting for its timeout.
      router.answer(callId, { error: 'the client sent a malformed tool_result (expected exactly one of "result" or "error")' });
      throw new WireError('invalid_request', `tool_result ${callId}: expected exactly one of "result" or "error"`);
    }
    const approval = parseApproval(message.approval);
    if (typeof approval === 'string') {
      router.answer(callId, { error: `the client sent a malformed tool_result (${approval})` });
      throw new WireError('invalid_request', `tool_result ${callId}: ${approval}`);
    }
    const delivered = router.answer(callId, hasError ? { error: message.error } : { result: message.result }, bytes, approval);
    if (!delivered) throw new WireError('unknown_call', `no pending tool call has callId ${JSON.stringify(callId)} (unknown, already answered, or its execution ended)`);
  };

  const cancelExecution = (message: Record<string, unknown>): void => {
    const id = checkId(message.id);
    const started = executions.get(id);
    if (!started) throw new WireError('unknown_execution', `no running execution has id ${JSON.stringify(id)} on this connection`);
    started.cancel();
  };

  // Keepalive: a client whose machine vanished never closes its socket; without an answer to the last ping it
  // is cut off, which cancels its executions like any close.
  let answered = true;
  const keepalive = setInterval(() => {
    if (!answered) {
      log.warn({ pingIntervalMs }, 'closing a WebSocket client that did not answer a ping');
      ws.terminate();
      return;
    }
    answered = false;
    ws.ping();
  }, pingIntervalMs);
  keepalive.unref();
  ws.on('pong', () => (answered = true));
  ws.on('message', (data, isBinary) => onMessage(data as Buffer, isBinary));
  ws.on('error', (error) => log.warn({ err: error }, 'websocket error'));
  ws.on('close', () => {
    clearInterval(keepalive);
    for (const started of executions.values()) started.cancel();
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
    throw new WireError('invalid_request', `expected a JSON object, received ${describeReceived(value)}`);
  }
  return value as Record<string, unknown>;
}

// A tool_result's `approval` ({decision, reason?}), undefined when there is none, or the problem naming the field.
function parseApproval(raw: unknown): ToolApproval | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) return `approval: expected an object {decision, reason}, received ${describeReceived(raw)}`;
  const { decision, reason, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) return `approval.${extra[0].slice(0, 40)}: unknown field; expected decision, reason`;
  if (!(APPROVAL_DECISIONS as readonly unknown[]).includes(decision)) {
    return `approval.decision: expected ${APPROVAL_DECISIONS.map((d) => `"${d}"`).join(', ')}, received ${describeReceived(decision)}`;
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_APPROVAL_REASON_CHARS)) {
    return `approval.reason: expected a string of at most ${MAX_APPROVAL_REASON_CHARS} characters, received ${typeof reason === 'string' ? `${reason.length} characters` : describeReceived(reason)}`;
  }
  return { decision: decision as ToolApproval['decision'], ...(reason === undefined ? {} : { reason }) };
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > MAX_ID_LENGTH) {
    throw new WireError('invalid_request', `id: expected a string of 1-${MAX_ID_LENGTH} characters, received ${describeReceived(id)}`);
  }
  return id;
}
