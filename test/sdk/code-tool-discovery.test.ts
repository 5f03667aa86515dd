// The code tool's description with discovery on, off and 'auto' (pure: no daemon): tool groups and the rules
// for searching instead of every stub, the thresholds of 'auto', and the sizes for 120 tools.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCodeTool, DISCOVERY_MIN_STUB_BYTES, DISCOVERY_MIN_TOOLS, pythonStubs, RunboxClient, type ToolSet } from 'runbox/sdk';
import { manyTools } from './many-tools.js';
import { SAMPLE_TOOLS } from './sample-tools.js';

const client = new RunboxClient({ url: 'http://127.0.0.1:9' }); // never connects: only descriptions are built
const sample: ToolSet = Object.fromEntries(SAMPLE_TOOLS.map(({ name, ...rest }) => [name, { ...rest, handler: () => null }]));
const tiny = (count: number): ToolSet =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`tool_${i}`, { description: 'x', parameters: { type: 'object', properties: {} }, handler: () => null }]));
const bytes = (text: string) => Buffer.byteLength(text);

describe('code tool: discovery', () => {
  it('on: lists the groups with counts and first names, the rules, and no tool stubs', () => {
    const { description, discovery } = createCodeTool(client, { tools: manyTools(), discovery: true });
    assert.equal(discovery, true);
    assert.match(description, /- Tools: 120 are declared and not shown here/);
    assert.match(description, /`search_tools\("issues"\)` returns the best matches/);
    assert.match(description, /`describe_tool\("github\.search_issues"\)` returns one tool's full signature/);
    assert.match(description, /^Tool groups \(120 tools; searching a group's name lists its tools\):$/m);
    assert.match(description, /^- github \(20 tools\): search_issues, get_issue, create_issue, update_issue, add_issue_comment, list_issue_comments, …$/m);
    const groups = [...description.matchAll(/^- (\w+) \((\d+) tools?\)/gm)].map((match) => `${match[1]}:${match[2]}`);
    assert.deepEqual(groups, ['github:20', 'jira:20', 'slack:20', 'postgres:20', 'drive:20', 'calendar:20']);
    assert.match(description, /^def search_tools\(query: str, limit: int \| None = 10\)/m);
    assert.match(description, /^def describe_tool\(name: str\) -> str/m);
    assert.match(description, /^def call_tool\(/m); // the prelude's own functions stay
    assert.doesNotMatch(description, /search_issues", \{|GithubSearchIssuesOutput/);
  });

  it('on, for Node and both runtimes: the Node names and declarations; ungrouped tools under "other", last', () => {
    const tools = { ...sample, 'crm.find_lead': sample.get_user };
    const node = createCodeTool(client, { tools, runtimes: ['node'], discovery: true }).description;
    assert.match(node, /`searchTools\("docs"\)`.*`describeTool\("search\.docs"\)`/s); // the first grouped tool
    assert.match(node, /^declare function searchTools\(query: string, options\?: \{ limit\?: number \}\)/m);
    assert.match(node, /^- search \(1 tool\): docs\n- crm \(1 tool\): find_lead\n- other \(9 tools\): get_user, search_users, list_orders, create_ticket, update_ticket, get_weather, …\n/m);
    assert.doesNotMatch(node, /declare function get_user/);
    const both = createCodeTool(client, { tools, runtimes: ['python', 'node'], discovery: true }).description;
    assert.match(both, /\(Node: `searchTools`, `describeTool`\)/);
    assert.match(both, /^def describe_tool/m);
    assert.match(both, /^declare function describeTool/m);
  });

  it('off: every stub, no groups', () => {
    const { description, discovery } = createCodeTool(client, { tools: manyTools(), discovery: false });
    assert.equal(discovery, false);
    assert.ok(description.includes(pythonStubs(manyTools()).trimEnd()));
    assert.doesNotMatch(description, /Tool groups|search_tools/);
  });

  it("'auto' (the default): on past 30 tools or 12 KB of stubs in a runtime, else off", () => {
    assert.equal(DISCOVERY_MIN_TOOLS, 30);
    assert.equal(DISCOVERY_MIN_STUB_BYTES, 12_000);
    assert.equal(createCodeTool(client, { tools: sample }).discovery, false);
    assert.equal(createCodeTool(client, { tools: manyTools() }).discovery, true);
    assert.equal(createCodeTool(client, { tools: tiny(30) }).discovery, false);
    assert.equal(createCodeTool(client, { tools: tiny(31) }).discovery, true);
    const big: ToolSet = { report: { description: 'A long one.', parameters: { type: 'object', properties: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`field_${i}`, { type: 'string', description: 'd'.repeat(200) }])) }, handler: () => null } };
    assert.ok(bytes(pythonStubs(big)) > DISCOVERY_MIN_STUB_BYTES);
    assert.equal(createCodeTool(client, { tools: big }).discovery, true);
    assert.equal(createCodeTool(client, { tools: big, runtimes: ['node'] }).discovery, true);
  });

  it('refuses a discovery option that is not "auto", true or false', () => {
    assert.throws(() => createCodeTool(client, { tools: sample, discovery: 'yes' as never }), /options\.discovery: expected "auto", true or false, received "yes"/);
  });

  it('for 120 tools the description is several times smaller with discovery', (t) => {
    for (const runtimes of [['python'], ['node'], ['python', 'node']] as const) {
      const on = bytes(createCodeTool(client, { tools: manyTools(), runtimes: [...runtimes], discovery: true }).description);
      const off = bytes(createCodeTool(client, { tools: manyTools(), runtimes: [...runtimes], discovery: false }).description);
      t.diagnostic(`${runtimes.join('+')}: ${off} bytes without discovery, ${on} with (${(off / on).toFixed(1)}x)`);
      assert.ok(on * 5 < off, `${on} vs ${off}`);
      assert.ok(on < 6000, `${on}`);
    }
  });
});
