// A scripted model on loopback that speaks the OpenAI Chat Completions and the Anthropic Messages wire formats
// (non-streaming), so the agent examples run with the real `openai` and `@anthropic-ai/sdk` clients and no
// network. Its answers come from a script of turns the test gives; it records every request it was sent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Which wire format a request came in. */
export type ModelApi = 'openai' | 'anthropic';

/** A tool call the scripted model makes: the tool's name and its arguments object. */
export interface ScriptedToolCall {
  name: string;
  input: Record<string, unknown>;
}

/** One answer of the scripted model, written once for both APIs and sent in the request's wire format. */
export interface ScriptedReply {
  /**
   * The assistant's text.
   * @default '' (OpenAI: `content: null` when there are tool calls)
   */
  text?: string;
  /**
   * Tool calls (OpenAI `tool_calls`, Anthropic `tool_use` blocks); any makes the stop reason a tool call.
   * @default []
   */
  toolCalls?: ScriptedToolCall[];
}

/** A request the server received, as it was sent. */
export interface RecordedRequest {
  api: ModelApi;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body. */
  body: any;
}

/** A turn of the script: a fixed reply, or one computed from the request (to quote what the loop sent). */
export type ScriptedTurn = ScriptedReply | ((request: RecordedRequest) => ScriptedReply);

export interface ModelServerOptions {
  /** The key clients must send (OpenAI: `Authorization: Bearer`; Anthropic: that or `x-api-key`). */
  apiKey: string;
  /** Answers in order, one per request; a request past the last one gets a 500 in the API's error format. */
  turns: ScriptedTurn[];
}

export interface ModelServer {
  /** Base URL for the OpenAI client (`…/v1`): it posts to `${baseURL}/chat/completions`. */
  openaiBaseURL: string;
  /** Base URL for the Anthropic client: it posts to `${baseURL}/v1/messages`. */
  anthropicBaseURL: string;
  /** Every request received, in order (refused ones included). */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

const ROUTES: Record<string, ModelApi> = { '/v1/chat/completions': 'openai', '/v1/messages': 'anthropic' };

// Starts the scripted model on 127.0.0.1, port 0.
export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  let nextTurn = 0;
  let nextId = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://model').pathname;
    const api = ROUTES[path];
    if (api === undefined || req.method !== 'POST') return sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendJson(res, 400, errorBody(api, 'invalid_request_error', 'the body is not JSON'));
    }
    const request: RecordedRequest = { api, path, headers: req.headers, body };
    requests.push(request);
    if (!hasKey(api, req.headers, options.apiKey)) return sendJson(res, 401, errorBody(api, 'authentication_error', 'invalid api key'));
    const turn = options.turns[nextTurn++];
    if (turn === undefined) return sendJson(res, 500, errorBody(api, 'api_error', `the script has no turn ${nextTurn}`));
    let reply: ScriptedReply;
    try {
      reply = typeof turn === 'function' ? turn(request) : turn;
    } catch (error) {
      return sendJson(res, 500, errorBody(api, 'api_error', `turn ${nextTurn} failed: ${(error as Error).message}`));
    }
    const id = ++nextId;
    const model = String((body as { model?: unknown }).model ?? 'scripted');
    sendJson(res, 200, api === 'openai' ? openaiCompletion(reply, id, model) : anthropicMessage(reply, id, model));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    openaiBaseURL: `http://127.0.0.1:${port}/v1`,
    anthropicBaseURL: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    }),
  };
}

// Whether the request carries the key where its API's clients put it: OpenAI a bearer token; Anthropic
// `x-api-key` (older clients) or a bearer token (@anthropic-ai/sdk 1.x), with an `anthropic-version`.
function hasKey(api: ModelApi, headers: http.IncomingHttpHeaders, apiKey: string): boolean {
  const bearer = headers.authorization === `Bearer ${apiKey}`;
  if (api === 'openai') return bearer;
  return (bearer || headers['x-api-key'] === apiKey) && typeof headers['anthropic-version'] === 'string';
}

// A Chat Completions answer (`object: 'chat.completion'`) carrying the reply.
export function openaiCompletion(reply: ScriptedReply, id: number, model: string): Record<string, unknown> {
  const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
    id: `call_${id}_${index}`,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.input) },
  }));
  const message: Record<string, unknown> = { role: 'assistant', content: reply.text ?? (toolCalls.length > 0 ? null : ''), refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: `chatcmpl-scripted-${id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

// A Messages answer (`type: 'message'`) carrying the reply as text and tool_use blocks.
export function anthropicMessage(reply: ScriptedReply, id: number, model: string): Record<string, unknown> {
  const content: Record<string, unknown>[] = [];
  if (reply.text) content.push({ type: 'text', text: reply.text });
  (reply.toolCalls ?? []).forEach((call, index) => content.push({ type: 'tool_use', id: `toolu_${id}_${index}`, name: call.name, input: call.input }));
  const usesTools = (reply.toolCalls ?? []).length > 0;
  return {
    id: `msg_scripted_${id}`,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: usesTools ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 10 },
  };
}

// An error body as the API shapes it.
function errorBody(api: ModelApi, type: string, message: string): Record<string, unknown> {
  if (api === 'openai') return { error: { message, type, param: null, code: null } };
  return { type: 'error', error: { type, message } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': `req_scripted_${Date.now()}` });
  res.end(text);
}

// The text of the tool results in the request's last message(s): OpenAI `role: 'tool'` messages after the last
// assistant message, Anthropic `tool_result` blocks of the last user message. What the scripted model "read".
export function toolResultTexts(request: RecordedRequest): string[] {
  const messages = request.body.messages as any[];
  if (request.api === 'openai') {
    const lastAssistant = messages.map((message) => message.role).lastIndexOf('assistant');
    return messages.slice(lastAssistant + 1).filter((message) => message.role === 'tool').map((message) => textOf(message.content));
  }
  const last = messages[messages.length - 1];
  const blocks = Array.isArray(last?.content) ? last.content : [];
  return blocks.filter((block: any) => block.type === 'tool_result').map((block: any) => textOf(block.content));
}

// A message content's text: a string as it is, text parts (OpenAI) or text blocks (Anthropic) joined.
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((part) => part?.type === 'text').map((part) => part.text).join('\n');
}
