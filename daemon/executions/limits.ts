// Pure: the limits of one execution. The configuration sets them; a request may lower any of them, never raise.
import type { Config } from '../config.js';
import { describeReceived, WireError } from '../errors.js';

/** Limits a request may lower, with the smallest value each accepts. */
export const LOWERABLE_LIMITS = {
  memoryBytes: 16 * 1024 * 1024,
  maxProcesses: 8,
  cpuTimeMs: 100,
  maxOutputBytes: 1,
  maxToolCalls: 0,
} as const;

export type LowerableLimit = keyof typeof LOWERABLE_LIMITS;
export type ExecutionLimits = Readonly<Record<LowerableLimit, number>>;

// The configured limits, lowered where the request's `limits` object asks; refuses raising and bad values.
export function resolveLimits(raw: unknown, config: Pick<Config, LowerableLimit>): ExecutionLimits {
  const limits: Record<LowerableLimit, number> = {
    memoryBytes: config.memoryBytes,
    maxProcesses: config.maxProcesses,
    cpuTimeMs: config.cpuTimeMs,
    maxOutputBytes: config.maxOutputBytes,
    maxToolCalls: config.maxToolCalls,
  };
  if (raw === undefined || raw === null) return Object.freeze(limits);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new WireError('invalid_request', 'limits: expected an object');
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!Object.hasOwn(LOWERABLE_LIMITS, name)) {
      throw new WireError('invalid_request', `limits.${name}: unknown limit; a request may lower ${Object.keys(LOWERABLE_LIMITS).join(', ')}`);
    }
    const key = name as LowerableLimit;
    const min = LOWERABLE_LIMITS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new WireError('invalid_request', `limits.${name}: expected an integer ≥ ${min}, received ${describeReceived(value)}`);
    }
    if (value > limits[key]) {
      throw new WireError('limit_exceeded', `limits.${name}: ${value} exceeds the configured ${limits[key]}; a request may lower limits, never raise them`);
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}
