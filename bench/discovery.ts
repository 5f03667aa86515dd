// Prints the size of the code tool's description for a synthetic set of 120 tools (6 servers × 20, realistic
// schemas: test/sdk/many-tools.ts) with and without progressive discovery, per allowed runtime, and what the
// per-tool stubs add to each execute request. Numbers only: nothing here passes or fails.
//   npm run bench:discovery
import { performance } from 'node:perf_hooks';
import { createCodeTool, renderToolStubs, RunboxClient, type Runtime } from 'runbox/sdk';
import { manyTools } from '../test/sdk/many-tools.js';

const tools = manyTools();
const client = new RunboxClient({ url: 'http://127.0.0.1:9' }); // never connects: only descriptions are built
const bytes = (text: string) => Buffer.byteLength(text);
const kb = (count: number) => `${(count / 1000).toFixed(1)} KB`.padStart(9);

console.log(`code tool description for ${Object.keys(tools).length} tools (bytes, UTF-8)`);
console.log(`${'runtimes'.padEnd(14)}${'without'.padStart(9)}${'with'.padStart(9)}  ratio`);
for (const runtimes of [['python'], ['node'], ['python', 'node']] as Runtime[][]) {
  const off = bytes(createCodeTool(client, { tools, runtimes, discovery: false }).description);
  const on = bytes(createCodeTool(client, { tools, runtimes, discovery: true }).description);
  console.log(`${runtimes.join('+').padEnd(14)}${kb(off)}${kb(on)}  ${(off / on).toFixed(1)}x   (${off} / ${on})`);
}
for (const runtime of ['python', 'node'] as Runtime[]) {
  const started = performance.now();
  const stubs = renderToolStubs(tools, runtime);
  const ms = performance.now() - started;
  const sent = Object.values(stubs).reduce((sum, stub) => sum + bytes(JSON.stringify(stub)), 0);
  console.log(`per-tool stubs (${runtime}): ${kb(sent).trim()} more in each execute request, rendered once per code tool in ${ms.toFixed(1)} ms`);
}
await client.close();
