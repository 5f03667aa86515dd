// The route table as a pure unit: which route a request target reaches (the files routes by the raw target),
// with what parameters, which methods each answers, and what a closing daemon still answers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkOpenFor, closingProblem } from '../../daemon/api/availability.js';
import { isWellFormedRequestId, requestIdOf } from '../../daemon/api/request-id.js';
import { allowedMethods, handlerOf, matchRoute, ROUTES, type HttpRoute } from '../../daemon/api/routes.js';
import { WireError } from '../../daemon/errors.js';

const routeOf = (target: string) => matchRoute('http', target).route?.pattern ?? null;
const httpRoute = (pattern: string) => ROUTES.find((r) => r.pattern === pattern) as HttpRoute;

describe('matchRoute', () => {
  test('every route of docs/protocol.md, with its parameters', () => {
    assert.equal(routeOf('/healthz'), '/healthz');
    assert.equal(routeOf('/v1/runtimes'), '/v1/runtimes');
    assert.equal(routeOf('/v1/executions'), '/v1/executions');
    assert.equal(routeOf('/v1/sessions'), '/v1/sessions');
    assert.deepEqual(matchRoute('http', '/v1/sessions/s-123').params, { id: 's-123' });
    assert.equal(routeOf('/v1/sessions/s-123'), '/v1/sessions/:id');
    assert.equal(routeOf('/v1/sessions/s-123/files'), '/v1/sessions/:id/files');
    const file = matchRoute('http', '/v1/sessions/s-123/files/out/chart.png');
    assert.equal(file.route?.pattern, '/v1/sessions/:id/files/*path');
    assert.deepEqual(file.params, { id: 's-123', path: 'out/chart.png' });
    assert.equal(matchRoute('upgrade', '/v1/ws').route?.pattern, '/v1/ws');
    assert.equal(routeOf('/mcp'), '/mcp');
    assert.equal(allowedMethods(httpRoute('/mcp')), 'POST');
  });

  test('the files routes read the raw target: dot segments and %2e%2e reach the path rules', () => {
    assert.deepEqual(matchRoute('http', '/v1/sessions/s1/files/%2e%2e/etc/passwd').params, { id: 's1', path: '%2e%2e/etc/passwd' });
    // Resolved as a URL this would be /healthz; as the raw target it is a file path the path rules refuse.
    const dotted = matchRoute('http', '/v1/sessions/s1/files/../../../healthz');
    assert.equal(dotted.route?.pattern, '/v1/sessions/:id/files/*path');
    assert.equal(dotted.params.path, '../../../healthz');
    assert.equal(matchRoute('http', '/v1/sessions/s1/files/a%2Fb').params.path, 'a%2Fb');
  });

  test('the query is cut off; the collection and the listing take one trailing slash', () => {
    assert.deepEqual(matchRoute('http', '/v1/sessions/s1?x=1').params, { id: 's1' });
    assert.equal(routeOf('/v1/executions?wait=1'), '/v1/executions');
    assert.equal(routeOf('/v1/sessions/'), '/v1/sessions');
    assert.equal(routeOf('/v1/sessions/s1/files/'), '/v1/sessions/:id/files');
    assert.equal(routeOf('/healthz/'), null);
    assert.equal(routeOf('/v1/sessions/s1/other'), null);
  });

  test('the other routes match the normalized path, and name it when nothing matches', () => {
    assert.equal(routeOf('/v1/x/../../healthz'), '/healthz');
    assert.equal(routeOf('/v1/x/../executions'), '/v1/executions');
    assert.equal(routeOf('/v1/%2e%2e/v1/runtimes'), '/v1/runtimes');
    assert.deepEqual(matchRoute('http', '/nope/../nothing'), { route: null, params: {}, pathname: '/nothing' });
    assert.equal(matchRoute('http', 'http://[').pathname, '(not a URL)');
    assert.equal(matchRoute('http', undefined).route, null);
  });

  test('plain requests never reach the WebSocket route, nor upgrades the HTTP routes', () => {
    assert.equal(routeOf('/v1/ws'), null);
    assert.equal(matchRoute('upgrade', '/healthz').route, null);
    assert.equal(matchRoute('upgrade', '/v1/sessions/s1').route, null);
    assert.equal(matchRoute('upgrade', '/v1/ws?x=1').route?.pattern, '/v1/ws');
  });
});

describe('methods and the closing gate', () => {
  test('each route names its methods in the Allow order of before; anything else has no handler', () => {
    assert.equal(allowedMethods(httpRoute('/healthz')), 'GET');
    assert.equal(allowedMethods(httpRoute('/v1/executions')), 'POST');
    assert.equal(allowedMethods(httpRoute('/v1/sessions')), 'POST');
    assert.equal(allowedMethods(httpRoute('/v1/sessions/:id')), 'GET, DELETE');
    assert.equal(allowedMethods(httpRoute('/v1/sessions/:id/files')), 'GET');
    assert.equal(allowedMethods(httpRoute('/v1/sessions/:id/files/*path')), 'GET, PUT, DELETE');
    assert.equal(handlerOf(httpRoute('/healthz'), 'POST'), null);
    assert.equal(handlerOf(httpRoute('/healthz'), 'constructor'), null);
    assert.equal(handlerOf(httpRoute('/healthz'), undefined), null);
    assert.equal(typeof handlerOf(httpRoute('/healthz'), 'GET'), 'function');
  });

  test('a closing daemon still answers health and the runtime list, and refuses the rest with shutting_down', () => {
    const answered = ROUTES.filter((r) => r.whenClosing === null).map((r) => r.pattern);
    assert.deepEqual(answered, ['/healthz', '/v1/runtimes']);
    const refusal = (work: Parameters<typeof checkOpenFor>[1]) => {
      try {
        checkOpenFor({ closing: true }, work);
        return null;
      } catch (error) {
        assert.ok(error instanceof WireError);
        assert.equal(error.code, 'shutting_down');
        return error.message;
      }
    };
    assert.equal(refusal('execution'), 'the daemon is shutting down and accepts no new executions');
    assert.equal(refusal('session'), 'the daemon is shutting down; its sessions are being removed');
    assert.equal(refusal('connection'), 'the daemon is shutting down');
    assert.equal(refusal(null), null);
    assert.doesNotThrow(() => checkOpenFor({ closing: false }, 'execution'));
    assert.equal(closingProblem({ closing: true }), 'the daemon is shutting down');
    assert.equal(closingProblem({ closing: false }), null);
  });
});

describe('request ids', () => {
  test('a well-formed client id is kept; anything else gets a fresh UUID', () => {
    for (const good of ['a', 'req-42', 'trace:abc.def_1', 'x'.repeat(128)]) {
      assert.ok(isWellFormedRequestId(good), good);
      assert.equal(requestIdOf({ 'x-request-id': good }), good);
    }
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a\nb', 'a\r\nset-cookie: x', '<script>', 'a, b', 'é']) {
      assert.ok(!isWellFormedRequestId(bad), JSON.stringify(bad));
      assert.match(requestIdOf({ 'x-request-id': bad }), uuid);
    }
    assert.match(requestIdOf({}), uuid);
    assert.match(requestIdOf(undefined), uuid);
    assert.notEqual(requestIdOf({}), requestIdOf({}));
  });
});
