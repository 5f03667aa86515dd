// resolveLimits: a request may lower each configured limit down to its floor, never raise one; every refusal is a
// wire error whose message names the limit, what was expected and what was received.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../daemon/config.js';
import { WireError } from '../../daemon/errors.js';
import { LOWERABLE_LIMITS, resolveLimits, type LowerableLimit } from '../../daemon/executions/limits.js';

const config = loadConfig({}, []);
const configured = Object.fromEntries(Object.keys(LOWERABLE_LIMITS).map((name) => [name, config[name as LowerableLimit]]));

// The wire error resolveLimits throws for raw, checked to be one.
function refusal(raw: unknown): WireError {
  try {
    resolveLimits(raw, config);
  } catch (error) {
    assert.ok(error instanceof WireError, `a WireError, not ${String(error)}`);
    return error;
  }
  assert.fail(`limits ${JSON.stringify(raw)} were accepted`);
}

test('no limits, null or {} give the configured ones, frozen', () => {
  for (const raw of [undefined, null, {}]) {
    const limits = resolveLimits(raw, config);
    assert.deepEqual({ ...limits }, configured);
    assert.ok(Object.isFrozen(limits));
  }
});

test('each limit may be lowered, down to its floor, and to exactly the configured value', () => {
  for (const [name, floor] of Object.entries(LOWERABLE_LIMITS) as Array<[LowerableLimit, number]>) {
    assert.equal(resolveLimits({ [name]: floor }, config)[name], floor, `${name} at its floor`);
    assert.equal(resolveLimits({ [name]: config[name] }, config)[name], config[name], `${name} at the configured value`);
    const lowered = resolveLimits({ [name]: config[name] - 1 }, config);
    assert.deepEqual({ ...lowered }, { ...configured, [name]: config[name] - 1 }, `only ${name} changes`);
  }
  const all = resolveLimits({ ...LOWERABLE_LIMITS }, config);
  assert.deepEqual({ ...all }, { ...LOWERABLE_LIMITS });
});

test('raising a limit is refused with limit_exceeded, naming it and the configured value', () => {
  for (const name of Object.keys(LOWERABLE_LIMITS) as LowerableLimit[]) {
    const error = refusal({ [name]: config[name] + 1 });
    assert.equal(error.code, 'limit_exceeded');
    assert.equal(error.message, `limits.${name}: ${config[name] + 1} exceeds the configured ${config[name]}; a request may lower limits, never raise them`);
  }
  // One raised among lowered ones is enough to refuse the whole request.
  assert.equal(refusal({ memoryBytes: LOWERABLE_LIMITS.memoryBytes, maxProcesses: config.maxProcesses * 2 }).code, 'limit_exceeded');
  // The configured values are the ceiling, whatever they are.
  const small = { ...config, maxToolCalls: 3 };
  assert.equal(resolveLimits({ maxToolCalls: 3 }, small).maxToolCalls, 3);
  assert.throws(() => resolveLimits({ maxToolCalls: 4 }, small), /limits\.maxToolCalls: 4 exceeds the configured 3/);
});

test('bad values are refused with invalid_request, naming the limit, the expected integer and what was received', () => {
  const cases: Array<[LowerableLimit, unknown, RegExp]> = [
    ['memoryBytes', LOWERABLE_LIMITS.memoryBytes - 1, /^limits\.memoryBytes: expected an integer ≥ 16777216, received number 16777215$/],
    ['maxProcesses', 0, /^limits\.maxProcesses: expected an integer ≥ 8, received number 0$/],
    ['cpuTimeMs', -1, /^limits\.cpuTimeMs: expected an integer ≥ 100, received number -1$/],
    ['maxOutputBytes', 1.5, /^limits\.maxOutputBytes: expected an integer ≥ 1, received number 1\.5$/],
    ['maxToolCalls', -1, /^limits\.maxToolCalls: expected an integer ≥ 0, received number -1$/],
    ['cpuTimeMs', '1000', /^limits\.cpuTimeMs: expected an integer ≥ 100, received "1000"$/],
    ['cpuTimeMs', null, /^limits\.cpuTimeMs: expected an integer ≥ 100, received null$/],
    ['cpuTimeMs', true, /^limits\.cpuTimeMs: expected an integer ≥ 100, received boolean true$/],
    ['cpuTimeMs', [1000], /^limits\.cpuTimeMs: expected an integer ≥ 100, received an array$/],
    ['cpuTimeMs', { value: 1000 }, /^limits\.cpuTimeMs: expected an integer ≥ 100, received an object$/],
    ['memoryBytes', Number.NaN, /^limits\.memoryBytes: expected an integer ≥ 16777216, received number NaN$/],
    ['memoryBytes', Number.POSITIVE_INFINITY, /^limits\.memoryBytes: expected an integer ≥ 16777216, received number Infinity$/],
  ];
  for (const [name, value, message] of cases) {
    const error = refusal({ [name]: value });
    assert.equal(error.code, 'invalid_request', `${name}: ${String(value)}`);
    assert.match(error.message, message);
  }
  // A huge integer is an integer: refused as a raise, not as a bad value.
  assert.equal(refusal({ memoryBytes: 2 ** 60 }).code, 'limit_exceeded');
});

test('limits that are not an object, and limits no request may set, are refused by name', () => {
  for (const raw of [5, 'low', true, [], [1, 2]]) {
    const error = refusal(raw);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.message, 'limits: expected an object');
  }
  for (const name of ['timeoutMs', 'workspaceBytes', 'maxConcurrent', 'memorybytes', '__proto__', 'constructor', 'toString', '']) {
    const error = refusal(JSON.parse(`{${JSON.stringify(name)}: 1}`));
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.message, `limits.${name}: unknown limit; a request may lower memoryBytes, maxProcesses, cpuTimeMs, maxOutputBytes, maxToolCalls`);
  }
});
