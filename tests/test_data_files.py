"""The verifier's reader of a public data set file (``verifier.data.load_public_dataset``),
check by check, without a proof: every refusal names the file and the array.

The end-to-end cases (a data set file given to ``verify_bundle``) are in
tests/test_data_binding.py; these are the refusals an auditor's file can hit before any
digest is compared, each asserting the message of the check meant for it.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from tiny_run import tiny_run

from verifier.data import load_public_dataset
from verifier.errors import VerifyError
from zktrain.run_config import parse_run


@pytest.fixture(scope="module")
def dataset():
    """The tiny run's training rows as ``export-data`` writes them, and its recipe of public
    data (the data set's digest in it)."""
    cfg = tiny_run({}, name="tiny-files")
    cfg["data"] = {**cfg["data"], "binding": "public"}
    run = parse_run(cfg)
    x, y = run.dataset.x_train, run.dataset.y_train
    return run.recipe, x, y


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def test_the_data_set_itself_is_read(dataset):
    recipe, x, y = dataset
    xe, ye = load_public_dataset(_npz(X=x, y=y), recipe)
    assert xe.shape == (recipe.data.rows, recipe.data.features) and ye.shape[0] == recipe.data.rows


@pytest.mark.parametrize("edit, reason", [
    # encode_labels: a class id outside [0, classes) (the shape and dtype checks pass)
    (lambda x, y: (x, np.where(np.arange(len(y)) == 3, 99, y)), r"^data set: labels: expected a vector of class ids"),
    # encode_inputs: a non-finite input
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y),
     r"^data set: inputs: non-finite values"),
], ids=["label out of range", "non-finite input"])
def test_values_that_do_not_encode_refused_by_name(dataset, edit, reason):
    """The encoders' refusals become the verifier's, naming the file (verifier/data.py: the
    ValueError of encode_inputs / encode_labels turned into a VerifyError)."""
    recipe, x, y = dataset
    x, y = edit(x.copy(), y.copy())
    with pytest.raises(VerifyError, match=reason):
        load_public_dataset(_npz(X=x, y=y), recipe)


@pytest.mark.parametrize("make, reason", [
    (lambda x, y: b"not an npz archive", r"^data set: not a readable \.npz file"),
    (lambda x, y: _npz(y=y), r"^data set: no array 'X' \(found \['y'\]\)"),
    (lambda x, y: _npz(X=x), r"^data set: no array 'y' \(found \['X'\]\)"),
    (lambda x, y: _npz(X=x[:, :-1], y=y), r"^data set: X has shape \(51, 3\) and dtype float32, the recipe says 51 rows of 4"),
    (lambda x, y: _npz(X=x > 0, y=y), r"^data set: X has shape \(51, 4\) and dtype bool"),
    (lambda x, y: _npz(X=x.astype(str), y=y), r"^data set: X has shape \(51, 4\) and dtype <U"),
    (lambda x, y: _npz(X=x, y=y[:-1]), r"^data set: y has shape \(50,\) and dtype int64, the recipe says 51 integer"),
    (lambda x, y: _npz(X=x, y=y.astype(np.float32)), r"^data set: y has shape \(51,\) and dtype float32"),
], ids=["garbage", "no X", "no y", "a feature short", "boolean inputs", "string inputs", "a label short",
        "float labels"])
def test_malformed_files_refused_by_name(dataset, make, reason):
    """Each array's presence, shape and dtype is checked before anything is encoded."""
    recipe, x, y = dataset
    with pytest.raises(VerifyError, match=reason):
        load_public_dataset(make(x, y), recipe)
