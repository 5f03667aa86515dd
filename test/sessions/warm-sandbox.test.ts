// A session's warm sandbox waits (and preloads numpy, pandas and matplotlib) while the session's files sit in its
// workspace and packages directory. Nothing the session wrote may run before the next execution's code arrives:
// not a matplotlibrc (whose axes.prop_cycle matplotlib evaluates, and which a generator frame escapes), not a
// sitecustomize, a .pth file or a module shadowing a preloaded one. Each is planted for real and made to leave a
// timestamped mark when it runs; every mark must be younger than the request of the execution that found it.
// A session whose packages shadow a preloaded module gets no preload at all (its own module must win).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sessionDirName } from '../../daemon/sessions/ids.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ maxSessions: 4, pythonPreload: ['numpy', 'pandas', 'matplotlib.pyplot'] });
});
after(() => d.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Python that writes `mark-<name>` in the workspace with the time it ran, from any of the planted files.
// Appends, so a later run cannot hide an earlier one: the first line is the first time it ran.
const mark = (name: string) => `open('/workspace/mark-${name}', 'a').write('%r\\n' % __import__('time').time())`;

// The matplotlibrc attack: eval() with emptied builtins, escaped through a generator's frame (no dunder attribute).
// Comprehensions have frames of their own before Python 3.12, hence one more f_back there.
const plantFromCode = `
import os, subprocess, sys
mark = lambda name: "open('/workspace/mark-%s', 'a').write('%%r\\\\n' %% __import__('time').time())" % name
backs = ".f_back" * (3 if sys.version_info < (3, 12) else 2)
escape = "((g := (g.gi_frame%s.f_builtins for x in [0])), (B := [b for b in g][0]), B['exec'](%r, {'__builtins__': B})) and 'r'" % (backs, mark("matplotlibrc"))
open("matplotlibrc", "w").write("axes.prop_cycle: cycler(color=[%s])\\n" % escape)
for name in ("sitecustomize", "usercustomize"):
    open(name + ".py", "w").write(mark("workspace-" + name) + "\\n")
open("planted.pth", "w").write("import os; " + mark("workspace-pth") + "\\n")
os.makedirs("numpy", exist_ok=True)
open("numpy/__init__.py", "w").write(mark("workspace-numpy") + "\\n")
subprocess.Popen(["sleep", "600"], start_new_session=True)  # must not outlive this execution
set_result(sorted(os.listdir(".")))
`;

// What the next execution sees as its first act: whether the warm sandbox had preloaded, the marks, and the
// processes of its sandbox (its own pid namespace: the previous execution's `sleep` must be gone with it).
const inspect = `
import os, sys
preloaded = "matplotlib.pyplot" in sys.modules
marks = {name: float(open(name).read().split()[0]) for name in os.listdir(".") if name.startswith("mark-")}
# pid 1 is bubblewrap's init of the sandbox; every other process must be the code's.
processes = sorted(open(f"/proc/{pid}/cmdline").read().replace("\\0", " ").strip() for pid in os.listdir("/proc") if pid.isdigit() and pid != "1")
set_result({"preloaded": preloaded, "marks": marks, "processes": processes})
`;

test("nothing a session planted runs in its warm sandbox before the next execution's code arrives", { timeout: 120_000 }, async () => {
  const created = await fetch(`${d.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python' }) });
  const id = ((await created.json()) as { id: string }).id;
  try {
    const planted = await postExecution(d.url, { runtime: 'python', sessionId: id, code: plantFromCode });
    assert.equal(planted.body.status, 'ok', JSON.stringify(planted.body));
    assert.ok(planted.body.result.includes('matplotlibrc'));
    // As if the session had installed them: a sitecustomize and a .pth file among its packages.
    const packages = path.join(d.workDir, 'sessions', sessionDirName(id), 'packages', 'python');
    await fs.mkdir(packages, { recursive: true });
    await fs.writeFile(path.join(packages, 'sitecustomize.py'), `${mark('packages-sitecustomize')}\n`);
    await fs.writeFile(path.join(packages, 'planted.pth'), `import os; ${mark('packages-pth')}\n`);

    // The warm sandbox preloads once idle; on a loaded machine that takes a while. A run that finds it not yet
    // preloaded proves less, so look again (each execution starts the next warm sandbox).
    let seen: { preloaded: boolean; marks: Record<string, number>; processes: string[] } | null = null;
    for (let attempt = 0; attempt < 4 && !seen?.preloaded; attempt++) {
      await sleep(3000);
      const requestedAt = Date.now() / 1000;
      const next = await postExecution(d.url, { runtime: 'python', sessionId: id, code: inspect });
      assert.equal(next.body.status, 'ok', JSON.stringify(next.body));
      seen = next.body.result;
      for (const [name, ranAt] of Object.entries(seen!.marks)) {
        assert.ok(ranAt >= requestedAt - 0.05, `${name} ran ${(requestedAt - ranAt).toFixed(2)} s before the execution was requested`);
      }
      assert.equal(seen!.processes.length, 1, `only the prelude runs in the sandbox: ${JSON.stringify(seen!.processes)}`);
      assert.match(seen!.processes[0], /prelude\.py$/);
    }
    assert.ok(seen?.preloaded, 'the warm sandbox preloaded matplotlib before the execution (else this test proves nothing)');
    // The preloaded matplotlib never read the workspace's matplotlibrc: the prelude applies it when the code runs,
    // inside the execution, where the code could have run the same payload itself.
    assert.ok('mark-matplotlibrc' in seen!.marks, 'the matplotlibrc still applies to the execution');
  } finally {
    await fetch(`${d.url}/v1/sessions/${id}`, { method: 'DELETE' });
  }
});

test('a session whose packages shadow a preloaded module gets no preload, so its own module is the one imported', { timeout: 60_000 }, async () => {
  const created = await fetch(`${d.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python' }) });
  const id = ((await created.json()) as { id: string }).id;
  try {
    const packages = path.join(d.workDir, 'sessions', sessionDirName(id), 'packages', 'python');
    await fs.mkdir(path.join(packages, 'numpy'), { recursive: true });
    await fs.writeFile(path.join(packages, 'numpy', '__init__.py'), `${mark('packages-numpy')}\nmine = True\n`);
    await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'pass' });
    await sleep(3000);
    const requestedAt = Date.now() / 1000;
    const next = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import os, sys\nwas = "numpy" in sys.modules\nimport numpy\nset_result([was, getattr(numpy, "mine", False), float(open("mark-packages-numpy").read().split()[0])])' });
    assert.equal(next.body.status, 'ok', JSON.stringify(next.body));
    const [was, mine, ranAt] = next.body.result;
    assert.equal(was, false, 'nothing was preloaded');
    assert.equal(mine, true, "the session's own numpy is imported");
    assert.ok(ranAt >= requestedAt - 0.05, 'and it ran inside the execution');
  } finally {
    await fetch(`${d.url}/v1/sessions/${id}`, { method: 'DELETE' });
  }
});

test("a preloaded matplotlib still takes the workspace's matplotlibrc, once the code runs", { timeout: 60_000 }, async () => {
  const created = await fetch(`${d.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python' }) });
  const id = ((await created.json()) as { id: string }).id;
  try {
    await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'open("matplotlibrc", "w").write("axes.facecolor: 0.25\\n")' });
    await sleep(3000);
    const next = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import sys\nwas = "matplotlib" in sys.modules\nimport matplotlib\nset_result([was, matplotlib.rcParams["axes.facecolor"]])' });
    assert.equal(next.body.status, 'ok', JSON.stringify(next.body));
    assert.equal(next.body.result[1], '0.25', `preloaded before: ${next.body.result[0]}`);
  } finally {
    await fetch(`${d.url}/v1/sessions/${id}`, { method: 'DELETE' });
  }
});
