// Reads a JSON request body with a size cap and a nesting cap, failing with a clear wire error (413 or 400).
import type http from 'node:http';
import { WireError } from '../errors.js';
import { PROTOCOL } from '../protocol.js';

/** Deepest nesting of arrays and objects accepted from a client (bodies, WebSocket messages, tool results): deeper
 * values would overflow the stack of whatever walks them later (JSON.stringify, the preludes' decoders). The
 * protocol's one limit, runtimes/protocol.json. */
export const MAX_JSON_DEPTH = PROTOCOL.maxJsonDepth;

// Reads the raw body; refuses it as soon as it passes maxBytes (named by limitName), before buffering the rest.
export async function readRawBody(req: http.IncomingMessage, maxBytes: number, limitName = 'maxRequestBytes'): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new WireError('payload_too_large', `body of ${declared} bytes exceeds ${limitName} ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new WireError('payload_too_large', `body exceeds ${limitName} ${maxBytes}`);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof WireError) throw error;
    // The client closed the connection mid-body: nobody is left to answer.
    throw new WireError('invalid_request', 'the request body ended before its declared length');
  }
  return Buffer.concat(chunks);
}

// Reads and parses the body; refuses it as soon as it passes maxBytes, before buffering the rest. An empty body
// is `whenEmpty` when given (a route whose fields are all optional), else invalid_json.
export async function readJsonBody(req: http.IncomingMessage, maxBytes: number, whenEmpty?: unknown): Promise<unknown> {
  const text = (await readRawBody(req, maxBytes)).toString('utf8');
  if (text.trim() === '') {
    if (whenEmpty !== undefined) return whenEmpty;
    throw new WireError('invalid_json', 'the body is empty; expected a JSON object');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WireError('invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  checkJsonDepth(value, 'the body');
  return value;
}

// Refuses a parsed JSON value nested deeper than MAX_JSON_DEPTH. Iterative, so the check itself cannot overflow.
export function checkJsonDepth(value: unknown, what: string): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw new WireError('invalid_request', `${what} is nested more than ${MAX_JSON_DEPTH} levels deep`);
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}
