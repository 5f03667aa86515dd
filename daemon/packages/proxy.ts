// A forward proxy on loopback, one per install, through which the installer reaches the network: it lets through
// only the origins of the configured index or registry (CONNECT tunnels by host and port, plain-HTTP requests by
// origin), chaining to the operator's proxy when one is configured, and records everything it refused. So a
// dependency tree naming another host (a tarball URL, a git URL, an index page linking elsewhere) reaches nothing.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface InstallProxyOptions {
  /** Origins the installer may reach, as `host:port` (see originKey). */
  readonly allowed: ReadonlySet<string>;
  /** The operator's http(s) proxy to send everything through (installProxy); '' connects directly. @default '' */
  readonly upstreamUrl?: string;
  /** PEM certificates to trust for an https upstream proxy. @default Node's own CAs */
  readonly upstreamCa?: string | Buffer;
}

/** Refusals kept for the error message. */
const MAX_REFUSALS = 20;
/** Tunnels and forwarded requests open at once; an installer uses a handful. */
const MAX_OPEN = 64;
/** How long opening a connection to the index (or to the upstream proxy) may take. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Request headers that belong to one hop, never forwarded. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// Pure: the `host:port` key of a URL's origin (lowercase host, IPv6 without brackets, the scheme's port when none).
export function originKey(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()}:${port}`;
}

// Pure: the `host:port` key of a CONNECT request's target, or null when it is not `host:port`.
export function connectTargetKey(target: string): string | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(target);
  if (!match || Number(match[2]) > 65535) return null;
  return `${match[1].replace(/^\[|\]$/g, '').toLowerCase()}:${Number(match[2])}`;
}

// A running proxy; close() ends it and every connection through it.
export class InstallProxy {
  /** What was refused, in order: `http://host:port/path` for plain requests, `host:port` for tunnels. */
  readonly refused: string[] = [];
  private readonly sockets = new Set<Duplex>();
  private open = 0;

  private constructor(private readonly server: http.Server, private readonly options: InstallProxyOptions, readonly url: string) {}

  // Starts a proxy on 127.0.0.1 and a free port.
  static async start(options: InstallProxyOptions): Promise<InstallProxy> {
    const server = http.createServer({ requestTimeout: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new InstallProxy(server, options, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('connection', (socket) => proxy.track(socket));
    server.on('request', (request, response) => proxy.forward(request, response));
    server.on('connect', (request, socket, head) => proxy.tunnel(request, socket, head));
    return proxy;
  }

  // Stops listening and cuts every connection still open.
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private refuse(what: string): void {
    if (this.refused.length < MAX_REFUSALS && !this.refused.includes(what)) this.refused.push(what);
  }

  // A plain-HTTP request in absolute form (`GET http://host/path`): forwarded only to an allowed origin.
  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    let target: URL | null = null;
    try {
      target = new URL(request.url ?? '');
    } catch {
      target = null;
    }
    if (!target || target.protocol !== 'http:') {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('runbox install proxy: expected an absolute http:// URL or CONNECT\n');
      return;
    }
    if (!this.options.allowed.has(originKey(target))) {
      this.refuse(`${target.origin}${target.pathname}`);
      response.writeHead(403, { 'content-type': 'text/plain' }).end(`runbox install proxy: ${target.origin} is not the configured package index or registry\n`);
      return;
    }
    if (this.open >= MAX_OPEN) {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('runbox install proxy: too many connections\n');
      return;
    }
    this.open += 1;
    const done = (): void => void (this.open -= 1);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) if (!HOP_HEADERS.has(name) && value !== undefined) headers[name] = value;
    const upstream = this.upstream();
    const requestOptions: http.RequestOptions = upstream
      ? { host: upstream.hostname, port: upstream.port || defaultPort(upstream), path: target.href, headers: { ...headers, ...proxyAuthorization(upstream) }, ...(this.options.upstreamCa ? { ca: this.options.upstreamCa } : {}) }
      : { host: target.hostname, port: target.port || 80, path: `${target.pathname}${target.search}`, headers };
    const client = upstream?.protocol === 'https:' ? https : http;
    const outgoing = client.request({ ...requestOptions, method: request.method, timeout: CONNECT_TIMEOUT_MS }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', () => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end('runbox install proxy: the index could not be reached\n');
      else response.destroy();
    });
    outgoing.on('close', done);
    request.pipe(outgoing);
  }

  // A CONNECT tunnel: opened only to an allowed host and port, directly or through the upstream proxy.
  private tunnel(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const key = connectTargetKey(request.url ?? '');
    if (!key || !this.options.allowed.has(key)) {
      this.refuse(key ?? String(request.url).slice(0, 200));
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nrunbox install proxy: not the configured package index or registry\n');
      return;
    }
    if (this.open >= MAX_OPEN) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n');
      return;
    }
    this.open += 1;
    const upstream = this.upstream();
    const remote = upstream ? this.connectUpstream(upstream) : net.connect({ host: key.slice(0, key.lastIndexOf(':')), port: Number(key.slice(key.lastIndexOf(':') + 1)) });
    this.track(remote);
    remote.setTimeout(CONNECT_TIMEOUT_MS, () => remote.destroy());
    const fail = (): void => {
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n');
      remote.destroy();
    };
    remote.once('error', fail);
    remote.once('close', () => {
      this.open -= 1;
      socket.destroy();
    });
    socket.once('close', () => remote.destroy());
    const established = (leftover: Buffer): void => {
      remote.setTimeout(0);
      remote.off('error', fail);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (leftover.length) socket.write(leftover);
      if (head.length) remote.write(head);
      socket.pipe(remote);
      remote.pipe(socket);
    };
    if (!upstream) {
      remote.once('connect', () => established(Buffer.alloc(0)));
      return;
    }
    const target = request.url as string;
    remote.once(upstream.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      remote.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${formatHeaders(proxyAuthorization(upstream))}\r\n`);
    });
    readResponseHead(remote, (status, leftover) => (status >= 200 && status < 300 ? established(leftover) : fail()));
  }

  private upstream(): URL | null {
    return this.options.upstreamUrl ? new URL(this.options.upstreamUrl) : null;
  }

  private connectUpstream(upstream: URL): net.Socket {
    const port = Number(upstream.port || defaultPort(upstream));
    if (upstream.protocol === 'https:') return tls.connect({ host: upstream.hostname, port, servername: upstream.hostname, ...(this.options.upstreamCa ? { ca: this.options.upstreamCa } : {}) });
    return net.connect({ host: upstream.hostname, port });
  }
}

function defaultPort(url: URL): number {
  return url.protocol === 'https:' ? 443 : 80;
}

// Basic credentials from the upstream proxy URL's user and password, if it has them.
function proxyAuthorization(upstream: URL): Record<string, string> {
  if (!upstream.username) return {};
  const credentials = `${decodeURIComponent(upstream.username)}:${decodeURIComponent(upstream.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

function formatHeaders(headers: Record<string, string>): string {
  return Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
}

/** Bytes of an upstream proxy's answer to CONNECT read before giving up on finding its end. */
const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

// Reads an HTTP response head from a socket and calls back with its status and the bytes after it (0 on garbage).
function readResponseHead(socket: net.Socket, callback: (status: number, leftover: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1 && buffered.length < MAX_RESPONSE_HEAD_BYTES) return;
    socket.off('data', onData);
    socket.pause();
    const status = end === -1 ? 0 : Number(/^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
    callback(status, end === -1 ? Buffer.alloc(0) : buffered.subarray(end + 4));
    socket.resume();
  };
  socket.on('data', onData);
}
