// Prints how long the daemon's main thread spends finding the trailing expression of Node code
// (daemon/executions/result-expression.ts): typical code, and inputs of nasty shapes at the size cap and at
// maxCodeBytes' default (1 MiB). Numbers only: nothing here passes or fails on time.
//   node dist/bench/result-expression.js        (BENCH_RUNS=20 runs each)
import { performance } from 'node:perf_hooks';
import { findResultExpression, MAX_RESULT_EXPRESSION_SEARCH } from '../daemon/executions/result-expression.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const MiB = 1024 * 1024;

const TYPICAL = `const users = await get_users();
const byTeam = new Map();
for (const user of users) {
  const team = byTeam.get(user.team) ?? [];
  team.push({ id: user.id, name: \`\${user.first} \${user.last}\`, active: user.lastSeen > Date.now() - 864e5 });
  byTeam.set(user.team, team);
}
function summary(team) {
  return { size: team.length, active: team.filter((u) => u.active).length };
}
const rows = [...byTeam].map(([name, team]) => ({ name, ...summary(team) }));
rows.sort((a, b) => b.active - a.active);
console.log(rows.length, 'teams');
rows.slice(0, 10)
`;

// Inputs of `units` UTF-16 code units, each the worst of its kind for a recursive-descent parser.
const shapes: Record<string, (units: number) => string> = {
  'typical code repeated, in blocks': (units) => `{\n${TYPICAL}}\n`.repeat(Math.floor(units / (TYPICAL.length + 4))),
  'long binary expression (1+1+...)': (units) => '1' + '+1'.repeat(Math.floor((units - 1) / 2)),
  'long array literal': (units) => '[' + '1,'.repeat(Math.floor((units - 2) / 2)) + ']',
  'many statements (x;x;...)': (units) => 'x;'.repeat(Math.floor(units / 2)),
  'deep parentheses (((...)))': (units) => '('.repeat(units / 2) + ')'.repeat(units / 2),
  'deep arrays [[[...]]]': (units) => '['.repeat(units / 2) + ']'.repeat(units / 2),
  'deep blocks {{{...}}}': (units) => '{'.repeat(units / 2) + '}'.repeat(units / 2),
  'deep arrow functions (x=>x=>...)': (units) => 'x=>'.repeat(Math.floor((units - 1) / 3)) + 'x',
  'long template literal': (units) => '`' + 'a${b}'.repeat(Math.floor((units - 2) / 5)) + '`',
  'one long string': (units) => `'${'a'.repeat(units - 2)}'`,
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function time(code: string, maxLength: number): number {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    findResultExpression(code, maxLength);
    times.push(performance.now() - started);
  }
  return median(times);
}

console.log(`typical code (${TYPICAL.length} units): ${time(TYPICAL, Infinity).toFixed(3)} ms (median of ${RUNS})`);
for (const units of [MAX_RESULT_EXPRESSION_SEARCH, MiB]) {
  console.log(`\n${units} UTF-16 units${units === MAX_RESULT_EXPRESSION_SEARCH ? ' (the cap)' : ' (maxCodeBytes default; above the cap, so timed without it)'}:`);
  for (const [name, build] of Object.entries(shapes)) {
    const code = build(units);
    console.log(`  ${name.padEnd(36)} ${time(code, Infinity).toFixed(1).padStart(7)} ms`);
  }
}
