// Seeded random inputs for the fuzz tests: a small PRNG, random JSON values, mutations of valid requests, and
// raw HTTP requests. Everything derives from one seed, so a failing run can be replayed exactly.
import net from 'node:net';

// mulberry32: tiny, fast, good enough to pick test inputs.
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** A marker replaced by raw JSON text after stringify (for nesting too deep to build as a value). */
const RAW = '\u0000RAW\u0000';

const ODD_STRINGS = ['', ' ', 'python', 'node', 'PYTHON', 'ruby', 'é', '日本語', '🦀', '\u0000', '\ud800', '\udfff', '\uffff', '\u202e', '\r\n', '"', '\\', '../../etc/passwd', '/etc/passwd', 'a\u0000b', '%00', '${jndi:x}', '<script>', 'constructor', '__proto__', 'toString'];
const ODD_NUMBERS = [0, -0, -1, 1, 0.5, -0.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, 300, 1000, 1001, 999999999999];

// A random JSON value, sometimes large or odd.
export function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, depth > 2 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(ODD_NUMBERS);
    case 3:
      return rng.pick(ODD_STRINGS);
    case 4:
      return randomString(rng);
    case 5:
      return rng.int(-1000, 100000);
    case 6:
      return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, () => [rng.pick([...ODD_STRINGS, 'type', 'id', 'code', 'result', 'error', 'callId']), randomValue(rng, depth + 1)]));
    default:
      return rng.chance(0.5) ? 'x'.repeat(rng.int(1000, 200_000)) : RAW;
  }
}

export function randomString(rng: Rng): string {
  const length = rng.pick([0, 1, 5, 40, 200, 5000]);
  let text = '';
  for (let i = 0; i < length; i++) text += rng.chance(0.8) ? String.fromCharCode(rng.int(32, 126)) : String.fromCharCode(rng.int(0, 0xffff));
  return text;
}

// Sets, deletes or replaces one field somewhere in the object (one level of nesting deep at most).
export function mutateObject(rng: Rng, target: Record<string, unknown>, extraKeys: readonly string[]): void {
  const keys = Object.keys(target);
  const nested = keys.filter((k) => typeof target[k] === 'object' && target[k] !== null);
  const roll = rng.int(0, 9);
  if (roll <= 1 && keys.length > 0) delete target[rng.pick(keys)];
  else if (roll <= 5 && keys.length > 0) target[rng.pick(keys)] = randomValue(rng);
  else if (roll <= 7 && nested.length > 0) {
    const inner = target[rng.pick(nested)] as Record<string, unknown> | unknown[];
    if (Array.isArray(inner)) {
      if (inner.length > 0 && typeof inner[0] === 'object' && inner[0] !== null && rng.chance(0.7)) mutateObject(rng, inner[0] as Record<string, unknown>, ['path', 'content', 'name', 'parameters']);
      else inner.push(randomValue(rng));
    } else {
      mutateObject(rng, inner, ['memoryBytes', 'maxProcesses', 'cpuTimeMs', 'maxOutputBytes', 'maxToolCalls', 'bogus']);
    }
  } else target[rng.pick([...extraKeys, ...ODD_STRINGS])] = randomValue(rng);
}

// JSON text of a value, with RAW markers replaced by deeply nested arrays or objects.
export function toJsonText(rng: Rng, value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replaceAll(JSON.stringify(RAW), () => {
    const depth = rng.int(100, 50_000);
    return rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  });
}

// Byte-level damage to a text: truncation, flipped bytes, inserted garbage.
export function damageText(rng: Rng, text: string): Buffer {
  const bytes = Buffer.from(text);
  switch (rng.int(0, 3)) {
    case 0:
      return bytes.subarray(0, rng.int(0, bytes.length));
    case 1: {
      const copy = Buffer.from(bytes);
      for (let i = 0; i < rng.int(1, 4) && copy.length > 0; i++) copy[rng.int(0, copy.length - 1)] = rng.int(0, 255);
      return copy;
    }
    case 2: {
      const at = rng.int(0, bytes.length);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: rng.int(1, 16) }, () => rng.int(0, 255))), bytes.subarray(at)]);
    }
    default:
      return Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
  }
}

export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

// Writes raw bytes on a new connection, half-closes it, and reads the answer (null when the server sent none).
export function sendRaw(port: number, data: Buffer, timeoutMs = 10_000): Promise<RawAnswer | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(data.subarray(0, 200).toString('latin1'))} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(data));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(null);
      const head = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? -1);
      resolve({ status, headers: head === -1 ? text : text.slice(0, head), body: head === -1 ? '' : text.slice(head + 4) });
    });
  });
}

// A random, often broken, raw HTTP request.
export function randomRawRequest(rng: Rng): Buffer {
  const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'BREW', 'G\u0000T', 'post', '']);
  const target = rng.pick(['/v1/executions', '/healthz', '/v1/runtimes', '/v1/ws', '/', '*', '/v1/executions?x=1#y', '/%00', '/..%2f..%2fetc/passwd', `/${'a'.repeat(rng.int(1, 10_000))}`, 'http://evil/', 'http://[', '//x:99999999/', '/constructor', '/__proto__', '/v1/executions/../healthz', '\u00ff']);
  const version = rng.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'FOO', '']);
  const body = rng.chance(0.5) ? '{"runtime":"python","code":"print(1)","timeoutMs":200}' : toJsonText(rng, randomValue(rng));
  const headers: string[] = [];
  if (rng.chance(0.9)) headers.push('Host: runbox');
  const length = rng.pick([String(Buffer.byteLength(body)), String(Buffer.byteLength(body)), '-1', '0', 'abc', '99999999999999999999', `${Buffer.byteLength(body)}, ${Buffer.byteLength(body) + 1}`, '1e3', ' 5', String(Buffer.byteLength(body) + 10)]);
  const lengthMode = rng.int(0, 5);
  if (lengthMode <= 2) headers.push(`Content-Length: ${length}`);
  else if (lengthMode === 3) headers.push('Transfer-Encoding: chunked');
  else if (lengthMode === 4) headers.push(`Content-Length: ${length}`, 'Transfer-Encoding: chunked');
  if (rng.chance(0.3)) headers.push(rng.pick(['Content-Type: application/json', 'Content-Type: text/plain', 'Expect: 100-continue', 'Expect: tea', 'Connection: upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==', 'Authorization: Bearer x', 'X-Bad\u0000: 1', 'Bad Header', ': empty', `X-Long: ${'h'.repeat(rng.int(1, 20_000))}`]));
  if (rng.chance(0.2)) headers.push('Connection: upgrade', 'Upgrade: websocket');
  let payload = body;
  if (lengthMode === 3 || lengthMode === 4) payload = rng.chance(0.7) ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` : `zz\r\n${body}\r\n`;
  const text = `${method} ${target} ${version}\r\n${headers.join('\r\n')}\r\n\r\n${method === 'GET' && rng.chance(0.7) ? '' : payload}`;
  return rng.chance(0.15) ? damageText(rng, text) : Buffer.from(text, 'latin1');
}
