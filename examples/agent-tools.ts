// The agent examples' workload: sales tools over deterministic synthetic data (a few thousand order lines in
// all), the task the model is given, and a ledger of the calls the sandboxed code made. Big tool results that
// the model never needs to read are what code mode saves: the code aggregates them, the model gets the totals.
import type { ToolSet } from 'runbox/sdk';

/** The regions list_regions() returns, in order. */
export const SALES_REGIONS = ['north', 'south', 'east', 'west', 'central', 'islands'] as const;
/** The months the order lines fall in, as `YYYY-MM`. */
export const SALES_MONTHS = ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'] as const;
/** Order lines per region. */
export const ROWS_PER_REGION = 400;

const PRODUCTS = ['basic plan', 'team plan', 'enterprise plan', 'support hours', 'onboarding', 'training seat'];
const CHANNELS = ['web', 'partner', 'direct'];

/** One order line of get_sales(region). Revenue is whole currency units, so totals are exact in any language. */
export interface SaleRow {
  order_id: string;
  date: string;
  month: string;
  product: string;
  channel: string;
  units: number;
  unit_price: number;
  revenue: number;
}

/** What the task asks the code to return: revenue by region, then by month. */
export type SalesTotals = Record<string, Record<string, number>>;

/** The task the examples give the model. */
export const SALES_TASK =
  'Fetch the sales of every region in parallel, total the revenue by region and month, draw a bar chart of ' +
  'the revenue by region as chart.png, and return the totals as {region: {month: revenue}}. Then tell me ' +
  'which region sold the most.';

/** A system prompt for the agent loops: what the code tool is for. */
export const AGENT_SYSTEM_PROMPT =
  'You are a data analyst. Use the code tool to call the sales tools, to aggregate their results and to ' +
  'draw charts: tool results stay inside the sandbox, and only what the code returns comes back to you. ' +
  'Answer briefly, quoting the numbers the code returned.';

// The order lines of one region: the same every run (mulberry32, a small 32-bit generator, seeded by region).
export function salesRows(region: string): SaleRow[] {
  const index = SALES_REGIONS.indexOf(region as (typeof SALES_REGIONS)[number]);
  if (index < 0) throw new Error(`unknown region ${JSON.stringify(region)}: expected one of ${SALES_REGIONS.join(', ')}`);
  let state = 7919 * (index + 1);
  const next = (bound: number) => {
    state = (state + 0x6d2b79f5) | 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) % bound;
  };
  return Array.from({ length: ROWS_PER_REGION }, (_, row) => {
    const month = SALES_MONTHS[next(SALES_MONTHS.length)];
    const day = String(1 + next(28)).padStart(2, '0');
    const units = 1 + next(20);
    const unitPrice = 20 + next(180) + index * 15;
    return {
      order_id: `${region}-${String(row + 1).padStart(4, '0')}`,
      date: `${month}-${day}`,
      month,
      product: PRODUCTS[next(PRODUCTS.length)],
      channel: CHANNELS[next(CHANNELS.length)],
      units,
      unit_price: unitPrice,
      revenue: units * unitPrice,
    };
  });
}

// The task's answer computed here from the same data: what the code in the sandbox should return.
export function expectedSalesTotals(): SalesTotals {
  const totals: SalesTotals = {};
  for (const region of SALES_REGIONS) {
    totals[region] = Object.fromEntries(SALES_MONTHS.map((month) => [month, 0]));
    for (const row of salesRows(region)) totals[region][row.month] += row.revenue;
  }
  return totals;
}

/** What the sales tools' handlers saw: every result they returned, and how many calls overlapped. */
export interface SalesToolLedger {
  /** Calls answered, by tool name. */
  readonly calls: Record<string, number>;
  /** The most calls that were in flight at once. */
  readonly maxInFlight: number;
  /** The JSON size in bytes of every result the handlers returned, in the order they returned. */
  readonly resultBytes: readonly number[];
}

export interface SalesToolsOptions {
  /**
   * How long each get_sales call takes, standing in for a slow API (calls made in parallel overlap).
   * @default 25
   */
  delayMs?: number;
}

// The sales tools (list_regions, get_sales) with JSON Schemas for arguments and results, and the ledger their
// handlers write to, so a test or the bench can see what the code called and how much data it handled.
export function createSalesTools(options: SalesToolsOptions = {}): { tools: ToolSet; ledger: SalesToolLedger } {
  const delayMs = options.delayMs ?? 25;
  const calls: Record<string, number> = { list_regions: 0, get_sales: 0 };
  const resultBytes: number[] = [];
  let inFlight = 0;
  const ledger = {
    calls,
    resultBytes,
    maxInFlight: 0,
  };
  // Counts a call while it runs, and the size of what it returned.
  const tracked = <Args>(name: string, answer: (args: Args) => Promise<unknown>) => async (args: Args) => {
    calls[name] += 1;
    inFlight += 1;
    ledger.maxInFlight = Math.max(ledger.maxInFlight, inFlight);
    try {
      const result = await answer(args);
      resultBytes.push(Buffer.byteLength(JSON.stringify(result)));
      return result;
    } finally {
      inFlight -= 1;
    }
  };
  const tools: ToolSet = {
    list_regions: {
      description: 'The names of the sales regions.',
      parameters: { type: 'object', properties: {} },
      outputSchema: { type: 'object', properties: { regions: { type: 'array', items: { type: 'string' } } }, required: ['regions'] },
      handler: tracked('list_regions', async () => ({ regions: [...SALES_REGIONS] })),
    },
    get_sales: {
      description: `Every order line of one region for ${SALES_MONTHS[0]} to ${SALES_MONTHS.at(-1)}; revenue is units * unit_price.`,
      parameters: { type: 'object', properties: { region: { type: 'string', enum: [...SALES_REGIONS] } }, required: ['region'] },
      outputSchema: {
        type: 'object',
        properties: {
          region: { type: 'string' },
          rows: { type: 'array', items: saleRowSchema() },
        },
        required: ['region', 'rows'],
      },
      handler: tracked('get_sales', async ({ region }: { region: string }) => {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return { region, rows: salesRows(region) };
      }),
    },
  };
  return { tools, ledger };
}

// The JSON Schema of one order line.
function saleRowSchema(): Record<string, unknown> {
  const text = { type: 'string' };
  const integer = { type: 'integer' };
  return {
    type: 'object',
    properties: { order_id: text, date: text, month: text, product: text, channel: text, units: integer, unit_price: integer, revenue: integer },
    required: ['order_id', 'date', 'month', 'product', 'channel', 'units', 'unit_price', 'revenue'],
  };
}
