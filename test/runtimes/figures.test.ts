// matplotlib figures come back as PNG files without being declared (docs/protocol.md, "Inside the sandbox"),
// through a real daemon, real sandboxed Python with matplotlib, and the real SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunboxClient } from 'runbox/sdk';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d.close();
});

// Runs Python over HTTP and returns the execution result.
async function run(code: string, extra: Record<string, unknown> = {}): Promise<any> {
  const { status, body } = await postExecution(d.url, { runtime: 'python', code, timeoutMs: 30000, ...extra });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.status, 'ok', JSON.stringify(body));
  return body;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Checks a returned file is a real PNG and returns its width and height (from the IHDR chunk).
function pngSize(file: { path: string; mimeType: string; size: number; content: string }): [number, number] {
  const bytes = Buffer.from(file.content, 'base64');
  assert.equal(file.mimeType, 'image/png', file.path);
  assert.equal(bytes.length, file.size);
  assert.ok(bytes.subarray(0, 8).equals(PNG_MAGIC), `${file.path} starts with the PNG signature`);
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  assert.ok(bytes.length > 1000, `${file.path} holds a drawing (${bytes.length} bytes)`);
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

const paths = (body: any) => body.files.map((file: any) => file.path);
const PLOT = 'import matplotlib.pyplot as plt\n';

describe('figures', () => {
  test('a figure left open comes back as figure_1.png, a real PNG of matplotlib\'s default size', async () => {
    const body = await run(`${PLOT}plt.plot([1, 3, 2])\nplt.title("left open")\nprint(plt.get_fignums())`);
    assert.deepEqual(paths(body), ['figure_1.png']);
    assert.deepEqual(pngSize(body.files[0]), [640, 480]); // figsize 6.4 x 4.8 in at 100 dpi
    assert.equal(body.stdout, '[1]\n');
    assert.deepEqual(body.fileErrors, []);
  });

  test('plt.show() saves and closes the open figures; drawing after it makes the next file', async () => {
    const code = [
      PLOT,
      'plt.plot([1, 2, 3])',
      'plt.show()',
      'print(plt.get_fignums())',
      'fig, ax = plt.subplots(figsize=(3, 2))',
      'ax.bar(["a", "b"], [3, 5])',
    ].join('\n');
    const body = await run(code);
    assert.equal(body.stdout, '[]\n');
    assert.equal(body.result, null); // matplotlib objects (what ax.bar returns) as the last line are no result
    assert.deepEqual(paths(body), ['figure_1.png', 'figure_2.png']);
    assert.deepEqual(pngSize(body.files[0]), [640, 480]);
    assert.deepEqual(pngSize(body.files[1]), [300, 200]);
  });

  test('two open figures come back in the order of their numbers', async () => {
    const code = `${PLOT}plt.figure(2, figsize=(2, 2))\nplt.plot([1, 2])\nplt.figure(1, figsize=(4, 1))\nplt.plot([2, 1])\nplt.show()`;
    const body = await run(code);
    assert.deepEqual(paths(body), ['figure_1.png', 'figure_2.png']);
    assert.deepEqual(body.files.map(pngSize), [[400, 100], [200, 200]]);
  });

  test('a figure the code saved itself comes back as that file, never as a copy: declared or not, shown or not', async () => {
    const declared = await run(`${PLOT}fig, ax = plt.subplots()\nax.plot([1, 2])\nfig.savefig("chart.png")\nset_result("ok", files=["chart.png"])`);
    assert.deepEqual(paths(declared), ['chart.png']);
    pngSize(declared.files[0]);
    // The common pattern: save, show, declare at the end; pyplot.savefig and a name without extension too.
    const shown = await run(`${PLOT}plt.plot([1, 2])\nplt.savefig("out/chart")\nplt.show()\nset_result("ok", files=["out/chart.png"])`, {
      files: [{ path: 'out/.keep', content: '' }],
    });
    assert.deepEqual(paths(shown), ['out/chart.png']);
    // Saved into the workspace without declaring it: that file comes back, the other figure as figure_1.png.
    const undeclared = await run(`${PLOT}plt.plot([1, 2])\nplt.savefig("kept.png")\nplt.figure()\nplt.plot([3, 4])`);
    assert.deepEqual(paths(undeclared), ['kept.png', 'figure_1.png']);
    pngSize(undeclared.files[0]);
    // Saved outside the workspace (or to a buffer): the code kept no file here, so the figure is captured.
    const elsewhere = await run(`${PLOT}import io\nplt.plot([1, 2])\nplt.savefig("/tmp/away.png")\nplt.figure()\nplt.plot([3])\nplt.savefig(io.BytesIO())`);
    assert.deepEqual(paths(elsewhere), ['figure_1.png', 'figure_2.png']);
  });

  test('captureFigures: false turns it off: no file, and show() leaves figures open as before', async () => {
    const body = await run(`${PLOT}plt.plot([1, 2])\nplt.show()\nprint(plt.get_fignums())`, { captureFigures: false });
    assert.deepEqual(body.files, []);
    assert.equal(body.stdout, '[1]\n');
    const refused = await postExecution(d.url, { runtime: 'python', code: 'pass', captureFigures: 'no' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'invalid_request');
    assert.match(refused.body.error.message, /^captureFigures: expected true or false, received/);
  });

  test('no matplotlib, no figure: nothing is captured, and matplotlib is never imported for it', async () => {
    const body = await run('import sys\nprint("matplotlib" in sys.modules)');
    assert.deepEqual([body.files, body.stdout], [[], 'False\n']);
    const closed = await run(`${PLOT}plt.plot([1, 2])\nplt.close("all")`);
    assert.deepEqual(closed.files, []);
  });

  test('the code\'s own figure_1.png is never overwritten, declared or not; a session keeps numbering past earlier files', async () => {
    const declared = await run(`${PLOT}open("figure_1.png", "w").write("mine")\nplt.plot([1, 2])\nset_result(None, files=["figure_1.png"])`);
    assert.deepEqual(paths(declared), ['figure_1.png', 'figure_2.png']);
    assert.equal(Buffer.from(declared.files[0].content, 'base64').toString(), 'mine');
    pngSize(declared.files[1]);

    const created = await fetch(`${d.url}/v1/sessions`, { method: 'POST' });
    const session = (await created.json()) as { id: string };
    const first = await run(`${PLOT}open("figure_1.png", "w").write("mine")\nplt.plot([1, 2])`, { sessionId: session.id });
    assert.deepEqual(paths(first), ['figure_2.png']);
    const second = await run(`${PLOT}plt.plot([2, 1])`, { sessionId: session.id });
    assert.deepEqual(paths(second), ['figure_3.png']);
    const own = await fetch(`${d.url}/v1/sessions/${session.id}/files/figure_1.png`);
    assert.equal(await own.text(), 'mine');
    await fetch(`${d.url}/v1/sessions/${session.id}`, { method: 'DELETE' });
  });

  test('the SDK passes captureFigures and checks it', async () => {
    const client = new RunboxClient({ url: d.url });
    try {
      const code = `${PLOT}plt.plot([1, 2])`;
      const captured = await client.execute({ runtime: 'python', code });
      assert.deepEqual(captured.files.map((file) => file.path), ['figure_1.png']);
      const off = await client.execute({ runtime: 'python', code, captureFigures: false });
      assert.deepEqual(off.files, []);
      await assert.rejects(client.execute({ runtime: 'python', code, captureFigures: 'yes' as unknown as boolean }), /options\.captureFigures/);
    } finally {
      await client.close();
    }
  });
});

test('a warm sandbox that preloaded pyplot captures figures as a cold one does', async () => {
  const warm = await startDaemon({ warmSandboxes: 1, pythonPreload: ['matplotlib.pyplot'] });
  try {
    const code = `import sys\npreloaded = "matplotlib.pyplot" in sys.modules\n${PLOT}plt.plot([1, 2])\nplt.show()\nplt.figure()\nplt.plot([2, 1])\npreloaded`;
    // The preload runs once a warm sandbox has been idle a while, and each try uses the sandbox up: poll slowly.
    let body: any;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 1000))) {
      body = (await postExecution(warm.url, { runtime: 'python', code, timeoutMs: 30000 })).body;
      assert.equal(body.status, 'ok', JSON.stringify(body));
      if (body.result === true) break;
    }
    assert.equal(body.result, true, 'a sandbox had preloaded pyplot');
    assert.deepEqual(paths(body), ['figure_1.png', 'figure_2.png']);
    body.files.forEach(pngSize);
  } finally {
    await warm.close();
  }
});

test("the fork server's warm-up plots through pandas: its backend is loaded before the code, matplotlib's converters left as they were", { skip: process.getuid?.() === 0 ? false : 'the fork server needs a root daemon' }, async () => {
  // The default preload (the tests' daemons have none): code that names pandas takes a child of that server.
  const code = [
    'import sys',
    'backend_loaded = "pandas.plotting._matplotlib" in sys.modules',
    'import pandas, matplotlib.units',
    'from_pandas = sorted(str(key) for key in matplotlib.units.registry if type(key).__module__.startswith("pandas") or getattr(key, "__module__", "").startswith("pandas"))',
    'pandas.DataFrame({"x": [1, 2], "y": [3, 1]}).plot(x="x", y="y")',
    'set_result([backend_loaded, from_pandas])',
  ].join('\n');
  const own = await startDaemon({ pythonPreload: ['numpy', 'pandas', 'matplotlib.pyplot'] }, { logs: true });
  try {
    for (const deadline = Date.now() + 60_000; !own.logs.some((line) => line.msg === 'Python fork server ready'); await new Promise((resolve) => setTimeout(resolve, 100))) {
      assert.ok(Date.now() < deadline, 'the fork server got ready');
    }
    const { body } = await postExecution(own.url, { runtime: 'python', code, timeoutMs: 30000 });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result, [true, []], 'pandas plotted once in the server, and put its unit converters back');
    assert.deepEqual(paths(body), ['figure_1.png']);
    body.files.forEach(pngSize);
  } finally {
    await own.close();
  }
});
