// The daemon's public API as the bench uses it: POST /v1/executions, and /v1/ws with a tool answered here.
import { WebSocket } from 'ws';

export interface ExecutionRequest {
  readonly runtime: 'python' | 'node';
  readonly code: string;
  readonly sessionId?: string;
  readonly timeoutMs?: number;
}

// Runs code over HTTP and answers its result; throws unless it ended `ok` (a failed execution measures nothing).
export async function execute(url: string, request: ExecutionRequest): Promise<{ result: unknown; durationMs: number }> {
  const response = await fetch(`${url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  const body = (await response.json()) as { status?: string; result: unknown; durationMs: number; error?: unknown; stderr?: string };
  if (body.status !== 'ok') throw new Error(`${request.runtime} execution failed (HTTP ${response.status}): ${JSON.stringify(body).slice(0, 2000)}`);
  return body;
}

// Creates a session (POST /v1/sessions) and answers its id.
export async function createSession(url: string, runtime: 'python' | 'node'): Promise<string> {
  const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime }) });
  const body = (await response.json()) as { id?: string };
  if (!body.id) throw new Error(`could not create a session: ${JSON.stringify(body)}`);
  return body.id;
}

// Deletes a session.
export async function deleteSession(url: string, id: string): Promise<void> {
  await fetch(`${url}/v1/sessions/${id}`, { method: 'DELETE' });
}

const ECHO_TOOL = { name: 'echo', description: 'answers its arguments', parameters: { type: 'object', properties: { i: { type: 'integer' } } } };

// Runs code over a WebSocket with an `echo` tool answered by this client at once; answers the code's result
// (the tool benchmarks time themselves inside the sandbox and return their timings).
export function executeWithEcho(wsUrl: string, runtime: 'python' | 'node', code: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'execute', id: 'bench', runtime, code, timeoutMs: 120_000, tools: [ECHO_TOOL] })));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'tool_call') ws.send(JSON.stringify({ type: 'tool_result', callId: message.callId, result: message.args }));
      else if (message.type === 'error') {
        ws.close();
        reject(new Error(`execute refused: ${message.code}: ${message.message}`));
      } else if (message.type === 'result') {
        ws.close();
        if (message.status === 'ok') resolve(message.result);
        else reject(new Error(`tool benchmark ended ${message.status}: ${JSON.stringify(message.error)} ${message.stderr}`));
      }
    });
  });
}
