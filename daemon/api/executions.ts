// POST /v1/executions: run code over plain HTTP and answer with the whole result. No client can answer
// tool calls here, so every tool call fails in the code with a clear message.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { NO_CLIENT_TOOL_HOST } from '../bridge/tools.js';
import { parseExecutionRequest } from '../executions/request.js';
import type { ExecutionService } from '../executions/service.js';
import { readJsonBody } from './body.js';
import { sendJson } from './respond.js';
import { checkRuntimeAvailable, type DaemonState } from './availability.js';

export interface ExecutionsDeps {
  readonly config: Config;
  readonly service: ExecutionService;
  readonly state: DaemonState;
  /** The request's logger: the execution's log lines carry its requestId. */
  readonly log: Logger;
}

// Reads, validates and runs one execution (after its wait in the queue, if any; a full queue is a 429 with
// Retry-After); if the client goes away first, the execution is cancelled, queued or running.
export async function handleCreateExecution(req: http.IncomingMessage, res: http.ServerResponse, deps: ExecutionsDeps): Promise<void> {
  const body = await readJsonBody(req, deps.config.maxRequestBytes);
  const request = parseExecutionRequest(body, deps.config, { toolsAllowed: false });
  checkRuntimeAvailable(deps.state, request.runtime);
  const started = deps.service.start(request, { toolHost: NO_CLIENT_TOOL_HOST, logger: deps.log });
  const onClose = () => {
    if (!res.writableFinished) started.cancel();
  };
  res.on('close', onClose);
  if (res.destroyed || req.socket.destroyed) started.cancel(); // gone before we listened
  const answer = await started.result;
  res.off('close', onClose);
  if (!res.destroyed) sendJson(res, 200, answer);
}
