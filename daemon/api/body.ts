// Reads a JSON request body with a size cap, failing with a clear wire error (413 or 400).
import type http from 'node:http';
import { WireError } from '../errors.js';

// Reads and parses the body; refuses it as soon as it passes maxBytes, before buffering the rest.
export async function readJsonBody(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new WireError('payload_too_large', `body of ${declared} bytes exceeds maxRequestBytes ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new WireError('payload_too_large', `body exceeds maxRequestBytes ${maxBytes}`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new WireError('invalid_json', 'the body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new WireError('invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}
