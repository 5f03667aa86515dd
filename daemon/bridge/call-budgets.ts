// What one execution may spend on its client's tools (the request's `budgets`): calls per tool, calls waiting for
// the client at once, and bytes of results in all. A call past one fails in the code with budget_exceeded naming
// the budget, the tool and the value; the result lists each budget that was exceeded (and the tool) once.
import { describeReceived, WireError } from '../errors.js';
import type { BudgetExceeded, ToolBudgets } from '../wire-types.js';
import { ToolCallError } from './tools.js';

const BUDGET_NAMES = ['maxCallsPerTool', 'maxConcurrentToolCalls', 'maxToolResultBytes'] as const;

// Checks the request's `budgets` against the declared tool names; throws invalid_request naming the bad field.
export function parseToolBudgets(raw: unknown, toolNames: readonly string[]): ToolBudgets {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new WireError('invalid_request', `budgets: expected an object, received ${describeReceived(raw)}`);
  const fields = raw as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!(BUDGET_NAMES as readonly string[]).includes(name)) throw new WireError('invalid_request', `budgets.${name}: unknown budget; expected ${BUDGET_NAMES.join(', ')}`);
  }
  const budgets: ToolBudgets = {};
  const perTool = fields.maxCallsPerTool;
  if (typeof perTool === 'object' && perTool !== null && !Array.isArray(perTool)) {
    const counts: Record<string, number> = {};
    for (const [tool, value] of Object.entries(perTool)) {
      if (!toolNames.includes(tool)) throw new WireError('invalid_request', `budgets.maxCallsPerTool.${tool}: no declared tool has this name`);
      counts[tool] = count(`budgets.maxCallsPerTool.${tool}`, value, 0);
    }
    budgets.maxCallsPerTool = counts;
  } else if (perTool !== undefined) {
    budgets.maxCallsPerTool = count('budgets.maxCallsPerTool', perTool, 0, ' or an object of integers by tool name');
  }
  if (fields.maxConcurrentToolCalls !== undefined) budgets.maxConcurrentToolCalls = count('budgets.maxConcurrentToolCalls', fields.maxConcurrentToolCalls, 1);
  if (fields.maxToolResultBytes !== undefined) budgets.maxToolResultBytes = count('budgets.maxToolResultBytes', fields.maxToolResultBytes, 0);
  return budgets;
}

function count(field: string, value: unknown, min: number, orElse = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new WireError('invalid_request', `${field}: expected an integer ≥ ${min}${orElse}, received ${describeReceived(value)}`);
  }
  return value;
}

// The budgets of one execution as its calls spend them.
export class ToolCallBudgets {
  private readonly callsByTool = new Map<string, number>();
  private inFlight = 0;
  private resultBytes = 0;
  private readonly exceeded = new Map<string, BudgetExceeded>();

  constructor(private readonly budgets: ToolBudgets) {}

  /** Each budget exceeded so far (with its tool for maxCallsPerTool), once. */
  get budgetsExceeded(): BudgetExceeded[] {
    return [...this.exceeded.values()];
  }

  // Admits a call to the client (counting it against its tool and the calls in flight), or says which budget it
  // is over. An admitted call must be ended with finish().
  admit(tool: string): ToolCallError | null {
    const limit = this.callLimit(tool);
    const made = this.callsByTool.get(tool) ?? 0;
    if (limit !== undefined && made >= limit) {
      return this.exceed({ budget: 'maxCallsPerTool', tool, limit }, `budget maxCallsPerTool for ${tool} (${limit} call${limit === 1 ? '' : 's'}) is spent`);
    }
    const concurrent = this.budgets.maxConcurrentToolCalls;
    if (concurrent !== undefined && this.inFlight >= concurrent) {
      return this.exceed({ budget: 'maxConcurrentToolCalls', limit: concurrent }, `budget maxConcurrentToolCalls (${concurrent} call${concurrent === 1 ? '' : 's'} at once) is reached: ${tool} was not called`);
    }
    this.callsByTool.set(tool, made + 1);
    this.inFlight += 1;
    return null;
  }

  // An admitted call was answered (or given up).
  finish(): void {
    this.inFlight -= 1;
  }

  // Charges a result of `bytes` bytes of JSON; a result that would go past maxToolResultBytes is not charged and
  // fails its call instead.
  chargeResult(tool: string, bytes: number): ToolCallError | null {
    const limit = this.budgets.maxToolResultBytes;
    if (limit !== undefined && this.resultBytes + bytes > limit) {
      return this.exceed({ budget: 'maxToolResultBytes', limit }, `budget maxToolResultBytes (${limit} bytes) would be exceeded by the result of ${tool} (${bytes} bytes, ${this.resultBytes} spent before it)`);
    }
    this.resultBytes += bytes;
    return null;
  }

  private callLimit(tool: string): number | undefined {
    const perTool = this.budgets.maxCallsPerTool;
    return typeof perTool === 'number' ? perTool : perTool?.[tool];
  }

  private exceed(what: BudgetExceeded, message: string): ToolCallError {
    const key = `${what.budget}\0${what.tool ?? ''}`;
    if (!this.exceeded.has(key)) this.exceeded.set(key, what);
    return new ToolCallError('budget_exceeded', message);
  }
}
