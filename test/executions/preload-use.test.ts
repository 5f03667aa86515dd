// Which fork server a Python execution's code is forked from: the plain one only when the code surely uses
// nothing of the preload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayUsePreload } from '../../daemon/executions/preload-use.js';

const PRELOAD = ['numpy', 'pandas', 'matplotlib.pyplot'];

test('code that names no preload package may be forked plain', () => {
  assert.equal(mayUsePreload('pass', PRELOAD), false);
  assert.equal(mayUsePreload('import json\nset_result(json.dumps({"a": 1}))', PRELOAD), false);
  assert.equal(mayUsePreload('numpyish = 1\nmy_pandas2 = 2', PRELOAD), false, 'a longer word is not the package');
});

test('a package named anywhere, as a word, takes the preload', () => {
  for (const code of ['import numpy as np', 'from pandas import DataFrame', 'import matplotlib.pyplot as plt', 'x = 1 # pandas later', 's = "numpy"']) {
    assert.equal(mayUsePreload(code, PRELOAD), true, code);
  }
});

test('a dynamic import takes the preload, as it may name any module', () => {
  for (const code of ['import importlib\nimportlib.import_module("nu" + "mpy")', '__import__("pan" + "das")', 'exec("import n" + "umpy")', 'eval("1")']) {
    assert.equal(mayUsePreload(code, PRELOAD), true, code);
  }
});

test('with nothing preloaded there is nothing to use', () => {
  assert.equal(mayUsePreload('import numpy', []), false);
});
