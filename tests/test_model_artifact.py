"""The trained model as an artifact (issue 13, item 2): ``prove`` writes the model file with the
opening of the last segment's W_T, b_T commitments, and ``verify --weights`` checks a disclosed
model against them by one random linear combination of the row commitments
(``verifier/model.py``).

Completeness: the model of a run verifies in both modes, in one segment and in several (the
last segment's commitments are the ones that count), through the API, ``zktrain verify`` and
``python -m verifier``; it holds the fixed-point engine's final weights. Soundness: a model
differing in one weight, one bias or one blind, value moved between rows (which fools an
unweighted sum of the rows), blinds shifted against combination weights that do not depend on
them, entries changed by a lattice-reduced vector against weights that do not depend on the
values, a model of another run or of another proof of the same run, and every malformed file
(truncated, garbage, pickled, a missing, unexpected, mistyped or misshapen array, an entry out
of range, a float copy that is not the copy, a non-canonical blind) are each rejected with a
reason naming what is wrong.
"""

from __future__ import annotations

import io
import json
import pickle
import stat
import zipfile
from fractions import Fraction

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from prover.training import commit_tensor
from verifier.bundle import parse_bundle, segment_statements, verify_bundle
from verifier.cli import main as verifier_main
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.hyrax import HyraxLayout
from verifier.disclosure import DOMAIN, check_opening, combination_weights
from verifier.model import DisclosedModel, check_model, float_copy, parse_model
from verifier.transcript import Transcript
from zktrain.cli import main
from zktrain.prove import prove_run, train_trace
from zktrain.run_config import parse_run

#: (mode, steps per segment): one segment and several, in both modes.
RUNS = [("clear", None), ("zk", None), ("clear", 1), ("zk", 2)]
_CACHE: dict = {}


def _run(mode="clear", segment_steps=None, **top):
    return parse_run(tiny_run({"zk": mode == "zk", "segment_steps": segment_steps}, **top))


def proven(mode="clear", segment_steps=None, again=False, **top):
    """(bundle, model file bytes, summary) of the tiny run, proven once per configuration
    (``again``: a second, independent proof of the same run)."""
    key = (mode, segment_steps, again, repr(sorted(top.items())))
    if key not in _CACHE:
        bundle, summary = prove_run(_run(mode, segment_steps, **top))
        _CACHE[key] = (bundle, summary.model.to_bytes(), summary)
    return _CACHE[key]


def arrays(model: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(model), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def npz(items: dict[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    np.savez(out, **items)
    return out.getvalue()


def edited(model: bytes, name: str, change, floats: bool = True) -> bytes:
    """The model file with ``change(copy of array name)`` applied in place; ``floats``: the
    float32 copy follows the change, so only the commitment check can tell."""
    items = arrays(model)
    items[name] = items[name].copy()
    change(items[name])
    if floats and f"{name}.float32" in items:
        items[f"{name}.float32"] = float_copy(items[name], int(items["scale_bits"]))
    return npz(items)


def rejected(bundle: bytes, model, reason: str) -> None:
    report = verify_bundle(bundle, weights=model)
    assert not report.accepted, "a bad model was accepted"
    assert reason in report.reason, report.reason


# --- completeness ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode,segment_steps", RUNS)
def test_model_of_the_run_verifies(mode, segment_steps):
    bundle, model, summary = proven(mode, segment_steps)
    report = verify_bundle(bundle, weights=model)
    assert report.accepted, report.reason
    assert report.artifacts["model"].startswith("disclosed: the model file matches the final commitments")
    assert "W1.T" in report.artifacts["model"] and "b2.T" in report.artifacts["model"]
    assert report.mode == mode and len(report.segments) == summary.segments


def test_without_weights_the_model_is_not_checked():
    bundle, _, _ = proven()
    report = verify_bundle(bundle)
    assert report.accepted and report.artifacts["model"].startswith("not checked")


def test_model_file_holds_the_trained_model():
    """Per layer the engine's final master weights and biases, unpadded, their float32 copies
    at 2^(2R+k), the recipe's digest, the mode and one 32-byte blind per Hyrax row."""
    run = _run("zk", 2)
    _, model, _ = proven("zk", 2)
    trace, _ = train_trace(run)
    items = arrays(model)
    scale = 2 * run.recipe.quant.frac_bits + run.recipe.quant.lr_shift
    assert int(items["scale_bits"]) == scale and str(items["mode"]) == "zk"
    assert items["recipe_digest"].tobytes() == run.recipe.digest()
    for l, (w, b) in enumerate(zip(trace.final_weights, trace.final_biases), 1):
        assert items[f"W{l}"].dtype == np.int64 and np.array_equal(items[f"W{l}"], w)
        assert np.array_equal(items[f"b{l}"], b)
        assert items[f"W{l}.float32"].dtype == np.float32
        assert np.allclose(items[f"W{l}.float32"], np.asarray(w) / 2.0**scale)
    assert items["W1.blinds"].shape == (4, 32) and items["b1.blinds"].shape == (2, 32)  # 8x4 padded: 4 rows


def test_the_last_segments_commitments_count():
    """With segments, the model opens the checkpoint the last segment ends on, not an earlier
    segment's (the weights after step 1 of 3)."""
    bundle, model, _ = proven("clear", 1)
    parsed = parse_bundle(bundle)
    run = _run("clear", 1)
    disclosed = parse_model(model, run.recipe, False, parsed.final.statement)
    check_model(disclosed, parsed.final.statement, parsed.final.public)
    first = parsed.segments[0]
    with pytest.raises(VerifyError, match="does not match the bundle's commitment W1.T"):
        check_model(disclosed, first.statement, first.public)


def test_cli_writes_the_model_and_verifies_it(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_run()))
    runner = CliRunner()
    result = runner.invoke(main, ["prove", "--run", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "tiny.zkp")])
    assert result.exit_code == 0, result.output
    model = tmp_path / "tiny.model.npz"  # the default: the bundle's path, .model.npz for its suffix
    assert model.exists() and f"wrote {model}" in result.output and "SECRET" not in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    result = runner.invoke(main, ["verify", str(tmp_path / "tiny.zkp"), "--weights", str(model)])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT"), result.output
    assert "  model: disclosed: the model file matches" in result.output and "  data: " in result.output
    result = runner.invoke(main, ["verify", "--json", str(tmp_path / "tiny.zkp"), "--weights", str(model)])
    assert json.loads(result.output)["artifacts"]["model"].startswith("disclosed")
    bad = tmp_path / "bad.model.npz"
    bad.write_bytes(edited(model.read_bytes(), "b1", lambda a: a.__setitem__(0, a[0] + 1)))
    result = runner.invoke(main, ["verify", str(tmp_path / "tiny.zkp"), "--weights", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"REJECT: model {bad}: b1 does not match the bundle's commitment b1.T")


def test_cli_zk_model_is_secret_and_goes_where_asked(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_run()))
    out, model = tmp_path / "tiny-zk.zkp", tmp_path / "released" / "m.npz"
    model.parent.mkdir()
    args = ["prove", "--run", str(tmp_path / "tiny.yaml"), "--zk", "--out", str(out), "--model-out", str(model)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "SECRET" in result.output and f"wrote {model}" in result.output
    assert stat.S_IMODE(model.stat().st_mode) == 0o600  # owner only: it opens the hiding commitments
    assert not (tmp_path / "tiny-zk.model.npz").exists()
    assert verify_bundle(out.read_bytes(), weights=model).accepted


def test_python_m_verifier(tmp_path, capsys):
    bundle, model, _ = proven()
    (tmp_path / "b.zkp").write_bytes(bundle)
    (tmp_path / "m.npz").write_bytes(model)
    assert verifier_main([str(tmp_path / "b.zkp"), "--weights", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ACCEPT") and "  model: disclosed" in out
    assert verifier_main([str(tmp_path / "b.zkp"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["artifacts"]["model"].startswith("not checked")
    (tmp_path / "m.npz").write_bytes(edited(model, "W1", lambda a: a.__setitem__((0, 0), a[0, 0] - 1)))
    assert verifier_main([str(tmp_path / "b.zkp"), "--weights", str(tmp_path / "m.npz")]) == 1
    assert "REJECT: model" in capsys.readouterr().out
    assert verifier_main([str(tmp_path / "missing.zkp")]) == 1
    assert "REJECT: cannot read" in capsys.readouterr().out


# --- soundness: the commitment check --------------------------------------------------------


@pytest.mark.parametrize("mode,segment_steps", RUNS)
@pytest.mark.parametrize("name,index", [("W1", (7, 3)), ("W2", (0, 0)), ("b1", (5,)), ("b2", (2,))])
def test_one_entry_changed_is_rejected_naming_the_tensor(mode, segment_steps, name, index):
    bundle, model, _ = proven(mode, segment_steps)
    tampered = edited(model, name, lambda a: a.__setitem__(index, a[index] + 1))
    rejected(bundle, tampered, f"{name} does not match the bundle's commitment {name}.T")


@pytest.mark.parametrize("mode", ["clear", "zk"])
@pytest.mark.parametrize("name", ["W1", "b2"])
def test_one_blind_changed_is_rejected(mode, name):
    bundle, model, _ = proven(mode)
    tampered = edited(model, f"{name}.blinds", lambda a: a.__setitem__((1, 0), a[1, 0] ^ 1))
    rejected(bundle, tampered, f"{name} does not match the bundle's commitment {name}.T")


def test_model_of_another_proof_of_the_same_run_is_rejected():
    """The same recipe and data give the same weights, but another proof commits them under
    other blinds: its opening does not open this bundle's commitments."""
    bundle, model, _ = proven()
    _, other, _ = proven(again=True)
    assert all(np.array_equal(arrays(model)[k], v) for k, v in arrays(other).items() if not k.endswith("blinds"))
    rejected(bundle, other, "W1 does not match the bundle's commitment W1.T")


def test_value_moved_between_rows_is_rejected():
    """The attack an unweighted check misses: move delta from row i to row k of one column and
    the blind e from r_i to r_k. Every row commitment is now wrong, yet the plain sums agree:
    sum_i C_i = <sum_i M_i, G> + (sum_i r_i) h still holds. With weights rho_i drawn after the
    opening, the combination is off by delta (rho_i - rho_k) G_j + e (rho_i - rho_k) h, zero
    only if rho_i = rho_k (probability 1/r): a per-row compensation that cancels in one fixed
    combination cancels in a random one only by chance."""
    bundle, model, _ = proven()
    parsed = parse_bundle(bundle)
    run = _run()
    st = parsed.final.statement
    disclosed = parse_model(model, run.recipe, False, st)
    w = disclosed.tensors["W1"].copy()  # 8 x 4: rows of 8 entries hold two weight rows each
    w[0, 0] += 1000
    w[2, 0] -= 1000  # flat index 8: row 1 of the 4 x 8 Hyrax matrix, same column 0
    blinds = list(disclosed.blinds["W1"])
    blinds[0], blinds[1] = (blinds[0] + 12345) % R, (blinds[1] - 12345) % R
    layout = HyraxLayout.square(st.tensor_vars("W1.T"))
    matrix = np.zeros((8, 4), dtype=np.int64)
    matrix[:] = w
    matrix = matrix.reshape(layout.num_rows, layout.num_cols)
    gens = pedersen_generators("blst")
    rows = parsed.final.public["W1.T"].decode(gens, layout)
    ones = [1] * layout.num_rows
    plain = gens.curve.msm(rows + gens.vector(layout.num_cols) + [gens.h],
                           ones + [-int(t) % R for t in matrix.sum(axis=0)] + [-sum(blinds) % R])
    assert plain == gens.curve.identity()  # the unweighted check is fooled
    tampered = edited(model, "W1", lambda a: a.__setitem__(slice(None), w))
    tampered = edited(tampered, "W1.blinds", lambda a: a.__setitem__(
        slice(None), np.frombuffer(b"".join(b.to_bytes(32, "little") for b in blinds), np.uint8).reshape(4, 32)))
    rejected(bundle, tampered, "W1 does not match the bundle's commitment W1.T")


def test_blinds_shifted_against_weights_blind_to_them_are_rejected():
    """If rho were drawn before the blinds were absorbed, any shift dr with sum_i rho_i dr_i = 0
    would pass with the true values: a false opening. The attack computes those rho (the
    transcript without the blinds) and shifts two blinds to cancel; the verifier's rho depend on
    the blinds, so the shift does not cancel."""
    bundle, model, _ = proven()
    parsed = parse_bundle(bundle)
    st = parsed.final.statement
    disclosed = parse_model(model, _run().recipe, False, st)
    layout = HyraxLayout.square(st.tensor_vars("W2.T"))
    matrix = np.zeros((4, 8), dtype=np.int64)
    matrix[:3] = disclosed.tensors["W2"]
    commitment = parsed.final.public["W2.T"]
    transcript = Transcript(DOMAIN)
    transcript.absorb_points(b"W2.T:rows", commitment.rows)
    transcript.absorb_bytes(b"W2.T:values", matrix.reshape(layout.num_rows, layout.num_cols).tobytes())
    rho = transcript.challenge_scalars(b"rho", layout.num_rows)
    blinds = list(disclosed.blinds["W2"])
    shift = 987654321
    blinds[0] = (blinds[0] + shift) % R
    blinds[1] = (blinds[1] - shift * rho[0] * pow(rho[1], -1, R)) % R  # rho_0 dr_0 + rho_1 dr_1 = 0
    encoded = np.frombuffer(b"".join(b.to_bytes(32, "little") for b in blinds), np.uint8).reshape(4, 32)
    tampered = edited(model, "W2.blinds", lambda a: a.__setitem__(slice(None), encoded))
    rejected(bundle, tampered, "W2 does not match the bundle's commitment W2.T")


def _lll(basis: list[list[int]], delta: Fraction = Fraction(99, 100)) -> list[list[int]]:
    """Lenstra-Lenstra-Lovasz reduction, exact (rational Gram-Schmidt), for the small lattices
    of the attack below."""
    b = [list(v) for v in basis]
    n = len(b)

    def dot(u, v):
        return sum(x * y for x, y in zip(u, v))

    def gram_schmidt():
        star, mu = [], [[Fraction(0)] * n for _ in range(n)]
        for i in range(n):
            v = [Fraction(x) for x in b[i]]
            for j in range(i):
                mu[i][j] = dot(b[i], star[j]) / dot(star[j], star[j])
                v = [x - mu[i][j] * y for x, y in zip(v, star[j])]
            star.append(v)
        return star, mu

    star, mu = gram_schmidt()
    k = 1
    while k < n:
        for j in range(k - 1, -1, -1):  # size reduction: b*_k and mu of other rows unchanged
            q = round(mu[k][j])
            if q:
                b[k] = [x - q * y for x, y in zip(b[k], b[j])]
                for i in range(j):
                    mu[k][i] -= q * mu[j][i]
                mu[k][j] -= q
        if dot(star[k], star[k]) >= (delta - mu[k][k - 1] ** 2) * dot(star[k - 1], star[k - 1]):
            k += 1
        else:
            b[k], b[k - 1] = b[k - 1], b[k]
            star, mu = gram_schmidt()
            k = max(k - 1, 1)
    return b


def test_entries_changed_against_weights_blind_to_the_values_are_rejected():
    """Why the values are absorbed before rho is drawn. Were rho a function of the commitments
    and blinds only, a forger would compute it, then look for a change dM of one column with
    sum_i rho_i dM_i = 0 mod r and small integer entries: a short vector of a lattice of
    determinant r, which LLL finds once the tensor has a few rows (with 6 rows, entries near
    r^(1/6) ~ 2^43, inside the 56-bit weight width). That forged model passes such a check
    with every blind honest; the verifier's rho depend on the values, so it is rejected.

    The tiny run's tensors have 4 rows (r^(1/4) ~ 2^64 is too wide for int64), so this runs on
    a 16-16-3 MLP whose W1 has 16 rows, committed directly (no proof is needed to attack the
    opening check)."""
    run = parse_run(tiny_run(model={"kind": "mlp", "widths": [16, 16, 3], "bias": True},
                             data={"source": "synthetic", "n": 64, "d": 16, "classes": 3, "seed": 1}))
    st = segment_statements(run.recipe)[-1]
    layout = HyraxLayout.square(st.tensor_vars("W1.T"))
    assert layout.num_rows == 16
    values = np.random.default_rng(1).integers(-(1 << 40), 1 << 40, size=(16, 16), dtype=np.int64)
    commitment, witness = commit_tensor(st, "W1.T", values)
    blinds = list(witness.blinds)
    rows = 6
    # rho as a check that absorbs no values would draw it: commitments, then blinds.
    transcript = Transcript(DOMAIN)
    transcript.absorb_points(b"W1.T:rows", commitment.rows)
    transcript.absorb_scalars(b"W1.T:blinds", blinds)
    rho = transcript.challenge_scalars(b"rho", layout.num_rows)
    inverse = pow(rho[0], -1, R)
    basis = [[R] + [0] * (rows - 1)]
    basis += [[-rho[i] * inverse % R] + [int(i == j) for j in range(1, rows)] for i in range(1, rows)]
    delta = next(v for v in _lll(basis) if any(v))
    assert sum(d * p for d, p in zip(delta, rho)) % R == 0 and max(abs(d) for d in delta) < 1 << 50
    forged = values.copy()
    forged[:rows, 0] += np.array(delta, dtype=np.int64)  # column 0 of Hyrax rows 0..5 (16 columns per row)
    assert not np.array_equal(forged, values)
    check_opening("W1", "W1.T", commitment, layout, values, blinds)  # the honest opening passes
    with pytest.raises(VerifyError, match="W1 does not match the bundle's commitment W1.T"):
        check_opening("W1", "W1.T", commitment, layout, forged, blinds)


def test_combination_weights_bind_the_commitment_the_values_and_the_blinds():
    """Fiat-Shamir order (DESIGN section 9): rho follows everything the check is about."""
    bundle, model, _ = proven()
    parsed = parse_bundle(bundle)
    disclosed = parse_model(model, _run().recipe, False, parsed.final.statement)
    matrix = np.zeros((4, 8), dtype=np.int64)
    matrix[:3] = disclosed.tensors["W2"]
    blinds = disclosed.blinds["W2"]
    com, other = parsed.final.public["W2.T"], parsed.final.public["W1.T"]
    base = combination_weights("W2.T", com, matrix, blinds)
    assert len(base) == 4 and len(set(base)) == 4
    changed = matrix.copy()
    changed[0, 0] += 1
    assert combination_weights("W2.T", other, matrix, blinds) != base
    assert combination_weights("W2.T", com, changed, blinds) != base
    assert combination_weights("W2.T", com, matrix, [blinds[0] + 1, *blinds[1:]]) != base


# --- soundness: the file against the bundle's recipe and mode --------------------------------


def test_model_of_another_run_is_rejected_by_its_recipe_digest():
    bundle, _, _ = proven()
    _, other, _ = proven(seed=4)
    rejected(bundle, other, "recipe_digest")
    rejected(bundle, other, "differs from the bundle's recipe")


@pytest.mark.parametrize("widths", [[4, 4, 3], [4, 4, 4, 3]])
def test_model_of_a_run_of_other_widths_is_rejected_by_its_recipe_digest_before_its_arrays(widths):
    """Other shapes, or another layer (arrays this recipe does not have): named by the digest."""
    bundle, _, _ = proven()
    _, other, _ = proven(model={"kind": "mlp", "widths": widths, "bias": True})
    rejected(bundle, other, "(a model of another run)")


def test_mode_scale_and_version_must_be_the_bundles():
    bundle, model, _ = proven()
    items = arrays(model)
    rejected(bundle, npz({**items, "mode": np.array("zk", dtype="<U5")}),
             "mode 'zk' differs from the bundle's mode 'clear'")
    rejected(bundle, npz({**items, "scale_bits": np.array(47, dtype=np.int64)}), "scale_bits 47 differs")
    rejected(bundle, npz({**items, "version": np.array(2, dtype=np.int64)}), "model file version 2")


def test_entry_out_of_the_weight_width_is_rejected():
    bundle, model, _ = proven()
    tampered = edited(model, "W2", lambda a: a.__setitem__((1, 2), 1 << 55))  # 56-bit weights: < 2^55
    rejected(bundle, tampered, "W2[1, 2] = 36028797018963968 lies outside the recipe's 56-bit weight width")


def test_float_copy_must_be_the_copy():
    bundle, model, _ = proven()
    tampered = edited(model, "b1.float32", lambda a: a.__setitem__(0, a[0] + 0.5), floats=False)
    rejected(bundle, tampered, "b1.float32 is not b1 / 2^48 in float32")


def test_non_canonical_blind_is_rejected():
    """r_i + r opens the same commitment mod r; the file's encoding must be canonical."""
    bundle, model, _ = proven()
    blinds = arrays(model)["W1.blinds"]
    big = (int.from_bytes(blinds[2].tobytes(), "little") + R).to_bytes(32, "little")
    tampered = edited(model, "W1.blinds", lambda a: a.__setitem__(2, np.frombuffer(big, np.uint8)))
    rejected(bundle, tampered, "W1.blinds holds a non-canonical field element")


# --- soundness: malformed files ------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=True)
    return out.getvalue()


def _malformed(model: bytes) -> dict[str, tuple[bytes, str]]:
    items = arrays(model)
    members = {f"{k}.npy": _npy(v) for k, v in items.items()}
    short = _npy(items["W1"])[:-8]  # the header declares 8 x 4 entries, one is missing
    return {
        "truncated": (model[: len(model) // 2], "not a model file (.npz archive)"),
        "garbage": (b"\x00garbage" * 50, "not a model file (.npz archive)"),
        "pickle": (pickle.dumps(items), "not a model file (.npz archive)"),
        "empty": (b"", "not a model file (.npz archive)"),
        "single npy": (_npy(items["W1"]), "a single .npy array, not a model file"),
        "missing": (npz({k: v for k, v in items.items() if k != "b2.blinds"}), "missing array 'b2.blinds'"),
        "unexpected": (npz({**items, "W3": items["W2"]}), "unexpected array 'W3'"),
        "not npy": (_zip({**members, "W1.npy": b"not an npy member"}), "array 'W1' is unreadable"),
        "short data": (_zip({**members, "W1.npy": short}), "array 'W1' is unreadable"),
        "int32": (npz({**items, "W1": items["W1"].astype(np.int32)}), "array 'W1' has dtype int32, expected int64"),
        "big-endian": (npz({**items, "b1": items["b1"].astype(">i8")}), "array 'b1' has dtype >i8, expected int64"),
        "pickled array": (npz({**items, "W2": items["W2"].astype(object)}), "array 'W2' has dtype object"),
        "float64": (npz({**items, "W1.float32": items["W1.float32"].astype(np.float64)}),
                    "array 'W1.float32' has dtype float64"),
        "transposed": (npz({**items, "W1": items["W1"].T.copy()}), "array 'W1' has shape (4, 8), expected (8, 4)"),
        "blinds short": (npz({**items, "b1.blinds": items["b1.blinds"][:1]}), "array 'b1.blinds' has shape (1, 32)"),
        "digest short": (npz({**items, "recipe_digest": items["recipe_digest"][:16]}),
                         "array 'recipe_digest' has shape (16,), expected (32,)"),
    }


MALFORMED = [
    "truncated", "garbage", "pickle", "empty", "single npy", "missing", "unexpected", "not npy", "short data",
    "int32", "big-endian", "pickled array", "float64", "transposed", "blinds short", "digest short",
]


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_model_file_is_rejected_naming_the_array(case):
    bundle, model, _ = proven()
    data, reason = _malformed(model)[case]
    report = verify_bundle(bundle, weights=data)
    assert not report.accepted and reason in report.reason, report.reason
    assert "malformed input" not in report.reason  # a named refusal, not an exception caught late


def test_unreadable_model_path_is_rejected(tmp_path):
    bundle, _, _ = proven()
    rejected(bundle, tmp_path / "nowhere.model.npz", f"model {tmp_path / 'nowhere.model.npz'}: cannot read")


def test_model_is_checked_only_on_a_proof_that_verifies():
    bundle, model, _ = proven()
    broken = bytearray(bundle)
    broken[-40] ^= 1
    report = verify_bundle(bytes(broken), weights=model)
    assert not report.accepted and "model" not in report.reason and report.artifacts == {}


def test_disclosed_model_round_trips():
    _, model, summary = proven("zk", 2)
    assert isinstance(summary.model, DisclosedModel)
    items = arrays(model)
    assert sorted(items) == sorted(summary.model.arrays())
    assert all(np.array_equal(items[k], v) and items[k].dtype == v.dtype for k, v in summary.model.arrays().items())


# --- Ghost BN's state (model.norm: ghost_bn) ------------------------------------------------

_BN = {"name": "ghost_batchnorm", "virtual_batch_size": 4}


def _bn_proven(mode="clear"):
    """The tiny run with a Ghost BN in its hidden layer (``proven`` with ``model.norm``)."""
    key = ("bn", mode)
    if key not in _CACHE:
        cfg = tiny_run({"zk": mode == "zk"})
        cfg["model"]["norm"] = _BN
        bundle, summary = prove_run(parse_run(cfg))
        _CACHE[key] = (bundle, summary.model.to_bytes(), summary)
    return _CACHE[key]


@pytest.mark.parametrize("mode", ["clear", "zk"])
def test_model_file_holds_the_ghost_bn_state(mode):
    """gamma, beta (at the master scale) and the running statistics (at 2^(2R), ``stat_bits``)
    of the trained model, each opening its ``bn1.*.T`` commitment."""
    bundle, model, summary = _bn_proven(mode)
    report = verify_bundle(bundle, weights=model)
    assert report.accepted, report.reason
    items = arrays(model)
    assert int(items["stat_bits"]) == 32
    trace, _ = train_trace(parse_run(dict(tiny_run(), model={**tiny_run()["model"], "norm": _BN})))
    for name, value in zip(("Gamma", "beta", "RM", "RV"), trace.final_norms[0]):
        assert np.array_equal(items[f"bn1.{name}"], value)
    assert np.array_equal(items["bn1.RV.float32"], float_copy(trace.final_norms[0][3], 32))


def test_ghost_bn_state_changed_is_rejected_naming_the_tensor():
    bundle, model, _ = _bn_proven()
    tampered = edited(model, "bn1.Gamma", lambda a: a.__setitem__(0, a[0] + 1))
    rejected(bundle, tampered, "bn1.Gamma")
    items = arrays(model)
    items["bn1.RM"] = items["bn1.RM"] + 1
    items["bn1.RM.float32"] = float_copy(items["bn1.RM"], 32)
    rejected(bundle, npz(items), "bn1.RM")


def test_ghost_bn_statistics_width_scale_and_copy_are_checked():
    bundle, model, _ = _bn_proven()
    items = arrays(model)
    rejected(bundle, npz({**items, "stat_bits": np.array(48, dtype=np.int64)}), "stat_bits 48 differs from the recipe's 2R = 32")
    rv = items["bn1.RV"].copy()
    rv[0] = -1
    rejected(bundle, npz({**items, "bn1.RV": rv}), "bn1.RV[0] = -1 lies outside the recipe's")
    copy = items["bn1.RM.float32"].copy()
    copy[0] += 0.5
    rejected(bundle, npz({**items, "bn1.RM.float32": copy}), "bn1.RM.float32 is not bn1.RM / 2^32 in float32")
