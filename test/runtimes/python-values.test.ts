// Python tool results with attribute access (nested too) that still behave as dicts and lists, and the tools'
// <Name>Input / <Name>Output models in tools.api: a real daemon, real sandboxes, real tools through the SDK.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pythonStubs, RunboxClient, type ExecutionResult, type ToolSet } from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

const LEADS = [
  { id: 'L1', value: 150, company_id: 'C1', contact: { name: 'Ada', email: 'ada@example.com' } },
  { id: 'L2', value: 50, company_id: 'C2', contact: { name: 'Bob', email: 'bob@example.com' } },
  { id: 'L3', value: 300, company_id: 'C3', contact: { name: 'Cy', email: 'cy@example.com' }, items: 'a key called items', 'my key': 1 },
];
const USER = { id: 'usr_123', email: 'ada@example.com', address: { city: 'Paris' }, orders: [{ id: 7, total: 12.5 }], extra_field: true };
const USER_OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    nickname: { type: 'string' },
    address: { $ref: '#/$defs/Address' },
    orders: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, total: { type: 'number' } } } },
  },
  required: ['id', 'email'],
  $defs: { Address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } } } },
};

// Tools of a small CRM; every call is recorded as the handler received it.
function makeTools(calls: { name: string; args: unknown }[]): ToolSet {
  const record = (name: string, args: unknown) => calls.push({ name, args });
  return {
    search_leads: {
      description: 'Leads worth at least min_value',
      parameters: { type: 'object', properties: { min_value: { type: 'number' } } },
      handler: (args: { min_value?: number }) => (record('search_leads', args), LEADS.filter((lead) => lead.value >= (args.min_value ?? 0))),
    },
    get_company: {
      description: 'One company',
      parameters: { type: 'object', properties: { company_id: { type: 'string' } }, required: ['company_id'] },
      handler: (args: { company_id: string }) => (record('get_company', args), { id: args.company_id, name: `Company ${args.company_id}` }),
    },
    get_offers: {
      description: 'Offers from vendors',
      handler: () => [{ vendor: 'a', price: 10, terms: { days: 30 } }, { vendor: 'b', price: 7, terms: { days: 60 } }],
    },
    get_user: {
      description: 'One user',
      parameters: { type: 'object', properties: { user_id: { type: 'string' }, include_orders: { type: 'boolean' } }, required: ['user_id'] },
      outputSchema: USER_OUTPUT_SCHEMA,
      handler: (args: unknown) => (record('get_user', args), USER),
    },
    echo: {
      description: 'Returns its arguments',
      parameters: { type: 'object', properties: { payload: { type: 'object' }, note: {} } },
      handler: (args: unknown) => (record('echo', args), args),
    },
    'search.docs': { description: 'A dotted name', parameters: { type: 'object', properties: { q: { type: 'string' } } }, handler: () => [] },
    'list-items': { description: 'A dashed name', handler: () => [] },
    create_user: {
      description: 'Arguments with a $ref of their own',
      parameters: {
        type: 'object',
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/Address' } },
        required: ['name'],
        $defs: { Address: { type: 'object', properties: { city: { type: 'string' }, geo: { type: 'object', properties: { lat: { type: 'number' } } } }, required: ['city'] } },
      },
      handler: (args: unknown) => (record('create_user', args), args),
    },
    getUser: { description: 'Same PascalCase name as get_user, declared later', parameters: { type: 'object', properties: { other: {} } }, handler: () => ({}) },
  };
}

// The [file, line] of each frame of a Python traceback.
function frames(traceback: string): Array<[string, number]> {
  return [...traceback.matchAll(/File "([^"]+)", line (\d+)/g)].map((m) => [m[1], Number(m[2])]);
}

describe('Python tool results and tool models', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  let calls: { name: string; args: unknown }[];

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
  });

  after(async () => {
    await client?.close();
    await daemon?.close();
  });

  // Runs Python code with the CRM tools; fails the test unless the execution ended ok.
  async function run(code: string[], extra: { files?: { path: string; content: string }[] } = {}): Promise<ExecutionResult> {
    calls = [];
    const out = await client.execute({ runtime: 'python', code: code.join('\n'), tools: makeTools(calls), timeoutMs: 30000, ...extra });
    assert.equal(out.status, 'ok', `${JSON.stringify(out.error)}\n${out.stderr}`);
    return out;
  }

  it('runs the guide snippets: attribute access on results and nested values, to_dict(), results as arguments', async () => {
    const out = await run([
      'results = await search_leads(0)',
      'processed = [r for r in results if r.value > 100]',
      'lead = processed[0]',
      'company = await get_company(lead.company_id)',
      'offers = await get_offers()',
      'best_offer = min(offers, key=lambda offer: offer.price)',
      'plain = best_offer.to_dict()',
      'set_result({"processed": [p.id for p in processed], "emails": [p.contact.email for p in processed],',
      '            "company": company.name, "best": plain, "days": best_offer.terms.days,',
      '            "plain_types": [type(plain).__name__, type(plain["terms"]).__name__, hasattr(plain, "vendor")]})',
    ]);
    assert.deepEqual(out.result, {
      processed: ['L1', 'L3'],
      emails: ['ada@example.com', 'cy@example.com'],
      company: 'Company C1',
      best: { vendor: 'b', price: 7, terms: { days: 60 } },
      days: 60,
      plain_types: ['dict', 'dict', false],
    });
    assert.deepEqual(calls, [{ name: 'search_leads', args: { min_value: 0 } }, { name: 'get_company', args: { company_id: 'C1' } }]);
  });

  it('gets a tool result as its Output model from a call with its Input model (tools.api)', async () => {
    const out = await run([
      'from tools.api import GetUserInput, GetUserOutput',
      "user = await get_user(GetUserInput(user_id='usr_123'))",
      'import tools.api as api',
      'from tools import api as same_api',
      'set_result({',
      '    "email": user.email, "is_model": isinstance(user, GetUserOutput), "is_dict": isinstance(user, dict),',
      '    "absent_declared": [user.nickname, user.address.zip], "city": user.address.city, "total": user.orders[0].total,',
      '    "undeclared": user.extra_field, "to_dict": user.to_dict() == user, "plain": type(user.to_dict()).__name__,',
      '    "repr": repr(GetUserInput(user_id="usr_123")), "input_dict": GetUserInput("u", True).to_dict(),',
      '    "nested_types": [type(user.address).__name__, type(user.orders[0]).__name__],',
      '    "same_module": api is same_api and api.GetUserInput is GetUserInput,',
      '    "sync": isinstance(call_tool("get_user", {"user_id": "u2"}), GetUserOutput),',
      '})',
    ]);
    assert.deepEqual(out.result, {
      email: 'ada@example.com',
      is_model: true,
      is_dict: true,
      absent_declared: [null, null],
      city: 'Paris',
      total: 12.5,
      undeclared: true,
      to_dict: true,
      plain: 'dict',
      repr: "GetUserInput(user_id='usr_123')",
      input_dict: { user_id: 'u', include_orders: true },
      nested_types: ['GetUserOutputAddress', 'GetUserOutputOrdersItem'],
      same_module: true,
      sync: true,
    });
    assert.deepEqual(calls, [{ name: 'get_user', args: { user_id: 'usr_123' } }, { name: 'get_user', args: { user_id: 'u2' } }], 'optional fields not given are left out');
  });

  it('every class the Python stubs show exists in tools.api under that name, nested and $ref ones too', async () => {
    // getUser is left out: its models share get_user's names, which only the first declared has (see below).
    const { getUser: _sameName, ...tools } = makeTools([]);
    const stubs = pythonStubs(tools, { inputModels: true });
    const shown = [...stubs.matchAll(/^class (\w+):/gm)].map((match) => match[1]);
    for (const name of ['GetUserOutputAddress', 'GetUserOutputOrdersItem', 'CreateUserInputAddress', 'CreateUserInputAddressGeo']) assert.ok(shown.includes(name), `${name} in:\n${stubs}`);
    const out = await run([
      `from tools.api import ${shown.join(', ')}`,
      'user = await get_user("usr_123")',
      'created = await create_user(name="Ada", address=CreateUserInputAddress(city="Lyon", geo=CreateUserInputAddressGeo(lat=45.7)))',
      'try:',
      '    CreateUserInputAddress(zip="69000")',
      'except TypeError as e:',
      '    refused = str(e)',
      'set_result({',
      '    "types": [type(user.address).__name__, type(user.orders[0]).__name__],',
      '    "isinstance": isinstance(user.address, GetUserOutputAddress) and isinstance(user.orders[0], GetUserOutputOrdersItem),',
      '    "created": created, "refused": refused,',
      '})',
    ]);
    assert.deepEqual(out.result, {
      types: ['GetUserOutputAddress', 'GetUserOutputOrdersItem'],
      isinstance: true,
      created: { name: 'Ada', address: { city: 'Lyon', geo: { lat: 45.7 } } },
      refused: "CreateUserInputAddress() got an unexpected field 'zip'; its fields: city, geo",
    });
    assert.deepEqual(calls.at(-1), { name: 'create_user', args: { name: 'Ada', address: { city: 'Lyon', geo: { lat: 45.7 } } } });
  });

  it('keeps results dicts and lists: json, isinstance, ==, subscripts, get, dir, pickle, copies, and plain JSON on the way back', async () => {
    const out = await run([
      'import copy, json, pickle',
      'results = await search_leads(0)',
      'r = results[2]',
      'plain = json.loads(json.dumps(results))',
      'equal = [results == plain, r == plain[2], plain[2] == r, r != plain[1]]',
      'r.note = "set as an attribute"',
      'echoed = await echo(note=r)',
      'sync = call_tool("search_leads", {"min_value": 100})',
      'both = call_tools_parallel([("get_company", {"company_id": "C7"}), ("search_leads", {})])',
      'set_result({',
      '    "isinstance": [isinstance(results, list), isinstance(r, dict)], "equal": equal,',
      '    "subscript": [r["value"], r.get("missing", "default"), r["my key"], r["items"]], "items_is_method": callable(r.items),',
      '    "hasattr": [hasattr(r, "value"), hasattr(r, "nope")], "dir": [k in dir(r) for k in ("value", "contact", "my key", "items")],',
      '    "set_key": r["note"], "echoed": echoed.note.contact.name, "sync": [x.value for x in sync], "awaited_sync": (await call_tool("get_offers"))[0].vendor,',
      '    "parallel": [both[0].name, both[1][0].contact.email],',
      '    "pickle": type(pickle.loads(pickle.dumps(r))).__name__, "pickled_equal": pickle.loads(pickle.dumps(results)) == results,',
      '    "deepcopy": copy.deepcopy(r).contact.name, "copy": r.copy().value,',
      '    "back": r,',
      '})',
    ]);
    assert.deepEqual(out.result, {
      isinstance: [true, true],
      equal: [true, true, true, true],
      subscript: [300, 'default', 1, 'a key called items'],
      items_is_method: true,
      hasattr: [true, false],
      dir: [true, true, false, true],
      set_key: 'set as an attribute',
      echoed: 'Cy',
      sync: [150, 300],
      awaited_sync: 'a',
      parallel: ['Company C7', 'ada@example.com'],
      pickle: 'dict',
      pickled_equal: true,
      deepcopy: 'Cy',
      copy: 300,
      back: { ...LEADS[2], note: 'set as an attribute' },
    });
    assert.deepEqual(calls[1], { name: 'echo', args: { note: { ...LEADS[2], note: 'set as an attribute' } } }, 'a result passed back is sent as plain JSON');
  });

  it('converts first results arriving in many threads at once, keeps the prelude unimportable, and feeds pandas', async () => {
    const out = await run([
      'import sys',
      'from concurrent.futures import ThreadPoolExecutor',
      'with ThreadPoolExecutor(8) as pool:',
      '    users = list(pool.map(lambda i: call_tool("get_user", {"user_id": f"u{i}"}), range(8)))',
      'from tools.api import GetUserOutput',
      'try:',
      '    import runbox_prelude',
      '    importable = True',
      'except ImportError:',
      '    importable = False',
      'import pandas as pd',
      'frame = pd.DataFrame(await search_leads(0))',
      'set_result({',
      '    "models": [isinstance(u, GetUserOutput) and u.address.city for u in users],',
      '    "prelude_importable": importable, "prelude_modules": [m for m in sys.modules if m.startswith("runbox_prelude")],',
      '    "frame": [len(frame), int(frame["value"].sum()), list(frame.columns[:3])],',
      '})',
    ]);
    assert.deepEqual(out.result, {
      models: Array(8).fill('Paris'),
      prelude_importable: false,
      prelude_modules: [],
      frame: [3, 500, ['id', 'value', 'company_id']],
    });
  });

  it('takes one dict of declared names as the arguments, unless the first parameter is itself an object', async () => {
    await run([
      'await get_company({"company_id": "C9"})',
      'await echo({"note": "n"})',
      'await search_leads({"min_value": 200})',
    ]);
    assert.deepEqual(calls, [
      { name: 'get_company', args: { company_id: 'C9' } },
      { name: 'echo', args: { payload: { note: 'n' } } },
      { name: 'search_leads', args: { min_value: 200 } },
    ]);
  });

  it('refuses bad Input models and missing attributes with errors naming the field, the model and the keys', async () => {
    const out = await run([
      'from tools.api import GetUserInput',
      'user = await get_user(user_id="u")',
      'lead = (await search_leads(0))[0]',
      'caught = []',
      'for attempt in (lambda: GetUserInput(), lambda: GetUserInput(user_id="u", user="x"), lambda: GetUserInput("a", True, 3),',
      '                lambda: lead.company, lambda: user.phone, lambda: setattr(lead, "items", 1)):',
      '    try:',
      '        attempt()',
      '    except (TypeError, AttributeError) as error:',
      '        caught.append([type(error).__name__, str(error)])',
      'set_result(caught)',
    ]);
    assert.deepEqual(out.result, [
      ['TypeError', "GetUserInput() missing 1 required field: 'user_id'"],
      ['TypeError', "GetUserInput() got an unexpected field 'user'; its fields: user_id, include_orders"],
      ['TypeError', 'GetUserInput() takes 2 positional arguments (user_id, include_orders) but 3 were given'],
      ['AttributeError', "'dict' object has no attribute or key 'company'; its keys: 'id', 'value', 'company_id', 'contact'"],
      ['AttributeError', "'GetUserOutput' object has no field or key 'phone'; its fields: id, email, nickname, address, orders; its keys: 'id', 'email', 'address', 'orders', 'extra_field'"],
      ['AttributeError', "'dict' object attribute 'items' is a dict method or attribute, not a key; use ['items'] to set or delete the key"],
    ]);
  });

  it("points a traceback of an error on a result or a model at the user's line, not the prelude", async () => {
    for (const [code, line, type, message] of [
      [['leads = await search_leads(0)', 'best = leads[0]', 'print(best.compny_id)'], 3, 'AttributeError', /no attribute or key 'compny_id'; its keys: 'id'/],
      [['from tools.api import GetUserInput', '', 'def ask():', '    return GetUserInput(usr_id="usr_123")', 'await get_user(ask())'], 4, 'TypeError', /unexpected field 'usr_id'/],
    ] as const) {
      calls = [];
      const out = await client.execute({ runtime: 'python', code: code.join('\n'), tools: makeTools(calls), timeoutMs: 30000 });
      assert.equal(out.status, 'error');
      assert.equal(out.error?.type, type);
      assert.match(out.error?.message ?? '', message);
      const shown = frames(out.error?.traceback ?? '');
      assert.deepEqual(shown.at(-1), ['main.py', line], out.error?.traceback);
      assert.ok(shown.every(([file]) => file === 'main.py'), out.error?.traceback);
      assert.doesNotMatch(out.error?.traceback ?? '', /runbox_prelude|values\.py|models\.py|KeyError/);
    }
  });

  it('names models in PascalCase (the first tool declared keeps a shared name), and tools.api exists without tools', async () => {
    const out = await run([
      'import tools.api as api',
      'set_result([sorted(api.__all__), api.GetUserInput._runbox_fields, api.SearchDocsInput(q="x").to_dict()])',
    ]);
    assert.deepEqual(out.result, [
      ['CreateUserInput', 'CreateUserInputAddress', 'CreateUserInputAddressGeo', 'CreateUserOutput', 'EchoInput', 'EchoOutput',
        'GetCompanyInput', 'GetCompanyOutput', 'GetOffersInput', 'GetOffersOutput', 'GetUserInput', 'GetUserOutput',
        'GetUserOutputAddress', 'GetUserOutputOrdersItem', 'ListItemsInput', 'ListItemsOutput', 'SearchDocsInput',
        'SearchDocsOutput', 'SearchLeadsInput', 'SearchLeadsOutput', 'create_user', 'echo', 'getUser', 'get_company',
        'get_offers', 'get_user', 'search__docs', 'search_leads'],
      ['user_id', 'include_orders'],
      { q: 'x' },
    ]);
    const bare = await client.execute({ runtime: 'python', code: 'from tools import api\nimport tools.api\nreturn [api.__all__, tools.api is api]' });
    assert.equal(bare.status, 'ok', JSON.stringify(bare.error));
    assert.deepEqual(bare.result, [[], true]);
  });

  it("lets a tools module of the workspace's own win, and fills in tools.api beside a tools directory", async () => {
    const own = await run(['import tools', 'try:', '    import tools.api', 'except ImportError as error:', '    set_result([tools.MINE, str(error)])'],
      { files: [{ path: 'tools.py', content: 'MINE = "the code\'s own"\n' }] });
    assert.deepEqual(own.result, ["the code's own", "No module named 'tools.api'; 'tools' is not a package"]);
    const beside = await run(['from tools.api import GetUserInput', 'return GetUserInput(user_id="x")'],
      { files: [{ path: 'tools/notes.txt', content: 'not code\n' }] });
    assert.deepEqual(beside.result, { user_id: 'x' });
  });
});
