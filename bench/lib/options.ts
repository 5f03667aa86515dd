// The bench's own settings, from the environment: which sections run and how many samples each series takes.

/** The sections of `npm run bench`, in the order they run. */
export const SECTION_NAMES = ['memory', 'throughput', 'trivial', 'chart', 'objects', 'session', 'tools'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

export interface BenchOptions {
  /** BENCH_RUNS: timed runs per latency series. @default 40 */
  readonly runs: number;
  /** BENCH_ONLY: comma-separated section names. @default every section */
  readonly sections: ReadonlySet<SectionName>;
  /** BENCH_JUPYTER=0 leaves the Jupyter peer out (no install, no kernel). @default true */
  readonly jupyter: boolean;
}

// Reads BENCH_RUNS, BENCH_ONLY and BENCH_JUPYTER; throws one error naming every bad value.
export function parseBenchOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const problems: string[] = [];
  const runs = Number(env.BENCH_RUNS ?? 40);
  if (!Number.isInteger(runs) || runs < 1) problems.push(`BENCH_RUNS: expected an integer ≥ 1, received ${JSON.stringify(env.BENCH_RUNS)}`);
  const names = (env.BENCH_ONLY ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(SECTION_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) problems.push(`BENCH_ONLY: expected names among ${SECTION_NAMES.join(', ')}, received ${unknown.map((n) => JSON.stringify(n)).join(', ')}`);
  const jupyter = env.BENCH_JUPYTER ?? '1';
  if (jupyter !== '0' && jupyter !== '1') problems.push(`BENCH_JUPYTER: expected 0 or 1, received ${JSON.stringify(jupyter)}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const sections = new Set<SectionName>(names.length > 0 ? (names as SectionName[]) : SECTION_NAMES);
  return { runs, sections, jupyter: jupyter === '1' };
}
