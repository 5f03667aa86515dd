'use strict';
// Values to JSON: what the code returns and passes to tools, converted so that no result is lost for its type
// (the table in docs/protocol.md, "Inside the sandbox"). A cycle, a throwing getter or nesting deeper than
// maxJsonDepth is a ConversionError that says where, from the root's name.

const util = require('node:util');
const { isUtf8 } = require('node:buffer');
const { MAX_JSON_DEPTH: MAX_DEPTH } = require('./protocol.cjs');
const { describeThrown } = require('./errors.cjs');

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);
/** A name JavaScript accepts as an identifier (ASCII only): `.key` in a path, a tool function's name. */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

// A value that cannot become JSON (a cycle, a throwing getter); reversedPath says where, innermost key first.
class ConversionError extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
    this.reversedPath = [];
  }

  // Names the place the conversion failed, from the given root name.
  describe(root) {
    let where = root;
    for (const key of this.reversedPath.slice().reverse()) {
      where += typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
    return `${where}: ${this.reason}`;
  }
}

// Says where and why a conversion failed, for any error (a RangeError from a too deep value, for one).
function describeFailure(err, root) {
  return err instanceof ConversionError ? err.describe(root) : `${root}: ${describeThrown(err)}`;
}

// Bytes become UTF-8 text when they are valid UTF-8, base64 otherwise, as docs/protocol.md says.
function bytesToJson(bytes) {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('base64');
}

// Converts a value into plain JSON data so that no result is lost for its type (table in the reply / protocol.md).
function toJsonValue(value, ancestors = new Set()) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value >= -MAX_SAFE_BIGINT && value <= MAX_SAFE_BIGINT ? Number(value) : String(value);
    case 'undefined':
      return null;
    case 'function':
    case 'symbol':
      return String(value);
  }
  if (value === null) return null;
  if (ancestors.has(value)) throw new ConversionError('it contains a circular reference');
  if (ancestors.size >= MAX_DEPTH) throw new ConversionError(`it nests deeper than ${MAX_DEPTH} levels`);
  ancestors.add(value);
  try {
    return objectToJson(value, ancestors);
  } catch (err) {
    throw err instanceof ConversionError ? err : new ConversionError(`converting it threw ${describeThrown(err)}`);
  } finally {
    ancestors.delete(value);
  }
}

// Adds a member's key to a conversion failure on its way out (any error thrown by a getter becomes one).
function conversionFailure(err, key) {
  const failure = err instanceof ConversionError ? err : new ConversionError(`reading it threw ${describeThrown(err)}`);
  failure.reversedPath.push(key);
  return failure;
}

// Converts one member, recording its key on the way out when the conversion fails.
function memberToJson(value, key, ancestors) {
  try {
    return toJsonValue(value, ancestors);
  } catch (err) {
    throw conversionFailure(err, key);
  }
}

// Reads and converts one property of an object; undefined properties are left out, as JSON.stringify does.
function propertyToJson(object, key, ancestors) {
  let item;
  try {
    item = object[key];
  } catch (err) {
    throw conversionFailure(err, key);
  }
  return item === undefined ? undefined : memberToJson(item, key, ancestors);
}

// Converts an object by its kind: bytes, typed arrays, arrays, Map, Set, Date, RegExp, Error, toJSON, plain.
function objectToJson(value, ancestors) {
  const types = util.types;
  if (Buffer.isBuffer(value)) return bytesToJson(value);
  if (types.isAnyArrayBuffer(value)) return bytesToJson(Buffer.from(value));
  if (types.isDataView(value)) return bytesToJson(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  if (Array.isArray(value) || types.isTypedArray(value)) {
    const items = new Array(value.length);
    for (let i = 0; i < value.length; i++) items[i] = memberToJson(value[i], i, ancestors);
    return items;
  }
  if (types.isMap(value)) {
    const object = Object.create(null);
    for (const [key, item] of value) {
      const name = typeof key === 'object' && key !== null ? JSON.stringify(toJsonValue(key, ancestors)) : String(key);
      object[name] = memberToJson(item, name, ancestors);
    }
    return object;
  }
  if (types.isSet(value)) return Array.from(value, (item, i) => memberToJson(item, i, ancestors));
  if (types.isDate(value)) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (types.isRegExp(value) || types.isPromise(value) || types.isWeakMap(value) || types.isWeakSet(value)) {
    return String(value);
  }
  if (types.isBoxedPrimitive(value)) return toJsonValue(value.valueOf(), ancestors);
  if (types.isNativeError(value) || value instanceof Error) {
    return { name: String(value.name), message: String(value.message) };
  }
  if (typeof value.toJSON === 'function') return memberToJson(value.toJSON(), 'toJSON()', ancestors);
  const object = Object.create(null);
  for (const key of Object.keys(value)) {
    const item = propertyToJson(value, key, ancestors);
    if (item !== undefined) object[key] = item;
  }
  return object;
}

// Converts a result for `done`: {result} as JSON data, or {error} when it cannot be sent (a ResultError).
function convertResult(value) {
  try {
    return { result: toJsonValue(value), error: null };
  } catch (err) {
    const message = `the result cannot be sent: ${describeFailure(err, 'result')}`;
    return { result: null, error: { type: 'ResultError', message, traceback: '' } };
  }
}

module.exports = { toJsonValue, convertResult, describeFailure, IDENTIFIER };
