// The request's `inputs`: checked names (pure), and the values as variables of the code in both runtimes, over
// HTTP and through the SDK, with tracebacks still pointing at the user's lines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunboxClient } from 'runbox/sdk';
import { WireError } from '../../daemon/errors.js';
import { MAX_INPUTS, parseInputs } from '../../daemon/executions/inputs.js';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

const tool = { name: 'get_lead', description: '', parameters: {} };

test('parseInputs: an object of usable names, or a 400 naming what is wrong', () => {
  assert.deepEqual(parseInputs(undefined, []), {});
  assert.deepEqual(parseInputs(null, []), {});
  assert.deepEqual(parseInputs({ lead_id: 'L-7', _x: [1, { a: null }], rowCount: 3 }, [tool]), { lead_id: 'L-7', _x: [1, { a: null }], rowCount: 3 });
  const refused: Array<[unknown, RegExp]> = [
    [[1, 2], /^inputs: expected an object of named JSON values, received an array$/],
    ['x', /^inputs: expected an object/],
    [{ 'a-b': 1 }, /^inputs\.a-b: an input's name must be 1-64 characters/],
    [{ '1a': 1 }, /^inputs\.1a: an input's name/],
    [{ ['a'.repeat(65)]: 1 }, /an input's name must be 1-64 characters/],
    [{ 'é': 1 }, /an input's name/],
    [{ __x: 1 }, /^inputs\.__x: names starting with "__"/],
    [{ class: 1 }, /"class" is a reserved word/],
    [{ None: 1 }, /"None" is a reserved word/],
    [{ await: 1 }, /"await" is a reserved word/],
    [{ arguments: 1 }, /"arguments" is a reserved word/],
    [{ set_result: 1 }, /"set_result" is a reserved word or a name the prelude binds/],
    [{ callTool: 1 }, /"callTool"/],
    [{ require: 1 }, /"require"/],
    [{ get_lead: 1 }, /^inputs\.get_lead: "get_lead" is also a declared tool/],
    [Object.fromEntries(Array.from({ length: MAX_INPUTS + 1 }, (_, i) => [`v${i}`, i])), /^inputs: 257 inputs; at most 256$/],
  ];
  for (const [raw, message] of refused) {
    assert.throws(() => parseInputs(raw, [tool]), (error: unknown) => error instanceof WireError && error.code === 'invalid_request' && message.test(error.message), JSON.stringify(raw).slice(0, 80));
  }
});

describe('inputs reach the code as variables', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({});
  });
  after(() => d.close());

  const inputs = { lead_id: 'L-7', rows: [{ v: 1 }, { v: 150 }], nested: { a: { b: [1, 2, null] } }, flag: false, ratio: 2.5, nothing: null };
  const code = {
    python: 'set_result([lead_id, [r["v"] for r in rows if r["v"] > 100], nested["a"]["b"], flag, ratio, nothing, type(rows).__name__])',
    node: 'return [lead_id, rows.filter((r) => r.v > 100).map((r) => r.v), nested.a.b, flag, ratio, nothing, Array.isArray(rows) ? "list" : "?"]',
  };
  for (const runtime of ['python', 'node'] as const) {
    test(`${runtime}: every JSON value, nested, as the request gave it; the code may reassign them`, async () => {
      const { status, body } = await postExecution(d.url, { runtime, code: code[runtime], inputs });
      assert.equal(status, 200);
      assert.equal(body.status, 'ok', JSON.stringify(body.error));
      assert.deepEqual(body.result, ['L-7', [150], [1, 2, null], false, 2.5, null, 'list']);
      const reassigned = await postExecution(d.url, { runtime, code: runtime === 'python' ? 'n = n + 1\nset_result(n)' : 'n = n + 1\nreturn n', inputs: { n: 41 } });
      assert.equal(reassigned.body.result, 42);
    });

    test(`${runtime}: a traceback still names the user's own line`, async () => {
      const failing = runtime === 'python' ? 'x = 1\nraise ValueError(lead_id)' : 'const x = 1;\nthrow new Error(lead_id);';
      const { body } = await postExecution(d.url, { runtime, code: failing, inputs: { lead_id: 'L-7' } });
      assert.equal(body.status, 'error');
      assert.equal(body.error.message.includes('L-7'), true, body.error.message);
      assert.match(body.error.traceback, runtime === 'python' ? /line 2/ : /main\.js:2:/);
    });
  }

  test('python: objects in inputs read as attributes, nested and in lists, as tool results do, and stay dicts and lists', async () => {
    const lead = { id: 'L-7', company: { name: 'Acme', tags: ['b2b'] }, items: 'a key called items' };
    const code = [
      'import json',
      'big = [r for r in rows if r.v > 100]',
      'set_result({',
      '    "attrs": [lead.id, lead.company.name, lead.company.tags, big[0].v, lead["items"]],',
      '    "types": [type(lead).__name__, isinstance(lead, dict), type(rows).__name__, type(lead.company.tags).__name__],',
      '    "plain": [json.loads(json.dumps(lead)) == lead, lead.to_dict() == lead, type(lead.to_dict()).__name__],',
      '    "missing": [lead.get("nope"), getattr(lead, "nope", "absent")],',
      '})',
    ].join('\n');
    const { body } = await postExecution(d.url, { runtime: 'python', code, inputs: { lead, rows: [{ v: 1 }, { v: 150 }] } });
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.deepEqual(body.result, {
      attrs: ['L-7', 'Acme', ['b2b'], 150, 'a key called items'],
      types: ['dict', true, 'list', 'list'],
      plain: [true, true, 'dict'],
      missing: [null, 'absent'],
    });
    const { body: failing } = await postExecution(d.url, { runtime: 'python', code: 'x = 1\nlead.nope', inputs: { lead } });
    assert.equal(failing.error.type, 'AttributeError');
    assert.match(failing.error.message, /'nope'/);
    assert.match(failing.error.traceback, /File "main\.py", line 2, in <module>/);
  });

  test('a bad name is a 400 naming it, and nothing runs', async () => {
    const { status, body } = await postExecution(d.url, { runtime: 'python', code: 'print("ran")', inputs: { 'two words': 1 } });
    assert.equal(status, 400);
    assert.equal(body.error.code, 'invalid_request');
    assert.match(body.error.message, /^inputs\.two words: an input's name/);
  });

  test('the SDK sends them over the WebSocket; a bad one is refused before it is sent', async () => {
    const client = new RunboxClient({ url: d.url });
    try {
      const result = await client.execute({ runtime: 'node', code: 'return await double(leadCount)', inputs: { leadCount: 21 }, tools: { double: { handler: ({ n }: { n: number }) => n * 2, parameters: { type: 'object', properties: { n: { type: 'number' } } } } } });
      assert.equal(result.status, 'ok', JSON.stringify(result.error));
      assert.equal(result.result, 42);
      await assert.rejects(client.execute({ runtime: 'python', code: '', inputs: [1] as never }), { name: 'TypeError', message: /options\.inputs: expected an object of named JSON values, received \[1\]/ });
      await assert.rejects(client.execute({ runtime: 'python', code: '', inputs: { double: 1 }, tools: { double: { handler: () => 0 } } }), { code: 'invalid_request', message: /"double" is also a declared tool/ });
    } finally {
      await client.close();
    }
  });
});
