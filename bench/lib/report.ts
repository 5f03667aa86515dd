// How the bench prints: a table of timing series against a baseline, and the board of the issue's targets,
// each measured as a ratio against its baseline of the same run and marked met or missed (never a failure).
import { formatMs, type Summary } from './stats.js';

export interface SeriesRow {
  readonly label: string;
  /** Null when this row could not be measured; `note` says why. */
  readonly summary: Summary | null;
  readonly note?: string;
}

const LABEL_WIDTH = 52;

// Prints rows of median and p95 with each median's ratio to the first row's (the baseline).
export function printSeries(title: string, rows: readonly SeriesRow[]): void {
  console.log(`${title}`);
  console.log(`  ${''.padEnd(LABEL_WIDTH)} ${'median'.padStart(10)} ${'p95'.padStart(10)}  ${'vs ' + (rows[0]?.label.split(',')[0] ?? '')}`);
  const base = rows[0]?.summary;
  for (const row of rows) {
    if (!row.summary) {
      console.log(`  ${row.label.padEnd(LABEL_WIDTH)} ${'skipped'.padStart(10)}             ${row.note ?? ''}`);
      continue;
    }
    const ratio = base ? `${(row.summary.medianMs / base.medianMs).toFixed(2)}x (p95 ${(row.summary.p95Ms / base.p95Ms).toFixed(2)}x)` : '';
    console.log(`  ${row.label.padEnd(LABEL_WIDTH)} ${formatMs(row.summary.medianMs).padStart(10)} ${formatMs(row.summary.p95Ms).padStart(10)}  ${ratio}${row.note ? `  ${row.note}` : ''}`);
  }
}

export type Comparison = '<=' | '>=' | '<';

export interface Target {
  /** What is measured, as the issue says it. */
  readonly name: string;
  /** Runbox's figure, as text (a median, a rate). */
  readonly runbox: string;
  /** The baseline's figure, as text; '' for an absolute target. */
  readonly baseline: string;
  /** The ratio to the baseline (or the absolute figure), compared with `limit`. */
  readonly measured: number;
  readonly comparison: Comparison;
  readonly limit: number;
  /** 'x' for a ratio, else the unit of an absolute figure. */
  readonly unit: 'x' | 'ms' | 'MB';
}

// Whether a measured figure meets its target.
export function isMet(target: Pick<Target, 'measured' | 'comparison' | 'limit'>): boolean {
  if (target.comparison === '<=') return target.measured <= target.limit;
  if (target.comparison === '>=') return target.measured >= target.limit;
  return target.measured < target.limit;
}

const formatFigure = (value: number, unit: Target['unit']) =>
  unit === 'x' ? `${value.toFixed(2)}x` : unit === 'ms' ? formatMs(value) : `${value.toFixed(1)} MB`;

// Collects the targets measured in this run and prints them as one table at the end.
export class TargetBoard {
  private readonly targets: Target[] = [];

  // Records a target and answers a short 'target ≤ 0.25x: missed' to print beside the row it came from.
  record(target: Target): string {
    this.targets.push(target);
    return `target ${target.comparison.replace('<=', '≤').replace('>=', '≥')} ${formatFigure(target.limit, target.unit)}: ${isMet(target) ? 'met' : 'MISSED'}`;
  }

  print(): void {
    if (this.targets.length === 0) return;
    const rows = this.targets.map((t) => [
      t.name,
      t.runbox,
      t.baseline || '(absolute)',
      formatFigure(t.measured, t.unit),
      `${t.comparison.replace('<=', '≤').replace('>=', '≥')} ${formatFigure(t.limit, t.unit)}`,
      isMet(t) ? 'met' : 'MISSED',
    ]);
    const header = ['target (issue 12)', 'runbox', 'baseline (same run)', 'measured', 'goal', 'status'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 || i === 1 || i === 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log('\ntargets (ratios of medians; measured in this run, on this machine):');
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    const met = this.targets.filter(isMet).length;
    console.log(`  ${met} of ${this.targets.length} targets met (numbers only: the bench exits 0 either way)`);
  }
}

// Bytes as MB (10^6: the unit of the issue's figures).
export const toMB = (bytes: number): number => bytes / 1e6;
