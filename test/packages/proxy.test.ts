// The install proxy on real sockets: plain-HTTP requests and CONNECT tunnels reach the allowed origin only, the
// rest is refused (and recorded) without any connection to the other host; chained to an upstream proxy, it sends
// everything through that proxy with its credentials.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { connectTargetKey, InstallProxy, originKey } from '../../daemon/packages/proxy.js';

let allowedServer: http.Server;
let otherServer: http.Server;
let allowedPort: number;
let otherPort: number;
/** What reached the other server, tunnels included: must stay empty. */
const otherSaw: string[] = [];

before(async () => {
  allowedServer = http.createServer((request, response) => response.end(`allowed ${request.url}`));
  otherServer = http.createServer((request, response) => {
    otherSaw.push(String(request.url));
    response.end('other');
  });
  otherServer.on('connection', () => otherSaw.push('connection'));
  for (const server of [allowedServer, otherServer]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  allowedPort = (allowedServer.address() as AddressInfo).port;
  otherPort = (otherServer.address() as AddressInfo).port;
});
after(async () => {
  for (const server of [allowedServer, otherServer]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// A GET in absolute form through the proxy; resolves with the status and body.
function getThrough(proxyUrl: string, url: string): Promise<{ status: number; body: string }> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    http.get({ host: proxy.hostname, port: proxy.port, path: url, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

// Opens a CONNECT tunnel through the proxy and, when it is established, sends a GET through it.
function connectThrough(proxyUrl: string, target: string): Promise<{ status: number; body: string }> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target, agent: false });
    request.on('connect', (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        return resolve({ status: response.statusCode ?? 0, body: '' });
      }
      socket.write(`GET /tunnelled HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve({ status: 200, body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
    });
    request.on('error', reject);
    request.end();
  });
}

test('origin keys: lowercase host, default ports, IPv6 without brackets; CONNECT targets must be host:port', () => {
  assert.equal(originKey('https://Registry.NPMjs.org/'), 'registry.npmjs.org:443');
  assert.equal(originKey('http://127.0.0.1:8080/simple'), '127.0.0.1:8080');
  assert.equal(originKey('http://[::1]/x'), '::1:80');
  assert.equal(connectTargetKey('Registry.npmjs.org:443'), 'registry.npmjs.org:443');
  assert.equal(connectTargetKey('[::1]:8443'), '::1:8443');
  for (const bad of ['registry.npmjs.org', 'a:b', 'host:99999', 'http://x:1', '']) assert.equal(connectTargetKey(bad), null, bad);
});

test('only the allowed origin is reached, by plain requests and by tunnels; the rest is refused and recorded', async () => {
  const proxy = await InstallProxy.start({ allowed: new Set([`127.0.0.1:${allowedPort}`]) });
  try {
    assert.deepEqual(await getThrough(proxy.url, `http://127.0.0.1:${allowedPort}/simple/x/`), { status: 200, body: 'allowed /simple/x/' });
    assert.deepEqual(await connectThrough(proxy.url, `127.0.0.1:${allowedPort}`), { status: 200, body: 'allowed /tunnelled' });
    assert.equal((await getThrough(proxy.url, `http://127.0.0.1:${otherPort}/evil.tgz`)).status, 403);
    assert.equal((await connectThrough(proxy.url, `127.0.0.1:${otherPort}`)).status, 403);
    assert.equal((await connectThrough(proxy.url, `localhost:${allowedPort}`)).status, 403, 'another name for the same host is another origin');
    assert.equal((await getThrough(proxy.url, '/not-absolute')).status, 400);
    assert.deepEqual(proxy.refused, [`http://127.0.0.1:${otherPort}/evil.tgz`, `127.0.0.1:${otherPort}`, `localhost:${allowedPort}`]);
    assert.deepEqual(otherSaw, [], 'the other server never saw a connection');
  } finally {
    await proxy.close();
  }
});

test('chained to an upstream proxy, requests and tunnels go through it with its credentials', async () => {
  const seen: string[] = [];
  const upstream = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers['proxy-authorization']}`);
    response.end('from upstream');
  });
  upstream.on('connect', (request, socket) => {
    seen.push(`CONNECT ${request.url} ${request.headers['proxy-authorization']}`);
    const [host, port] = [request.url?.split(':')[0] as string, Number(request.url?.split(':')[1])];
    const remote = net.connect(port, host, () => {
      socket.write('HTTP/1.1 200 OK\r\n\r\n');
      remote.pipe(socket);
      socket.pipe(remote);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = `http://ada:s%3Acret@127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const proxy = await InstallProxy.start({ allowed: new Set([`127.0.0.1:${allowedPort}`]), upstreamUrl });
  try {
    assert.deepEqual(await getThrough(proxy.url, `http://127.0.0.1:${allowedPort}/a`), { status: 200, body: 'from upstream' });
    assert.deepEqual(await connectThrough(proxy.url, `127.0.0.1:${allowedPort}`), { status: 200, body: 'allowed /tunnelled' });
    assert.equal((await connectThrough(proxy.url, `127.0.0.1:${otherPort}`)).status, 403);
    const credentials = `Basic ${Buffer.from('ada:s:cret').toString('base64')}`;
    assert.deepEqual(seen, [`GET http://127.0.0.1:${allowedPort}/a ${credentials}`, `CONNECT 127.0.0.1:${allowedPort} ${credentials}`], 'the refused tunnel never reached the upstream either');
  } finally {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
