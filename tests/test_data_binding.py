"""Data bound to the proof (issue 13, ``verifier/data.py``): public data and committed data.

A tiny run (4 -> 8 -> 3, batch 4, 3 steps padded to 4, 8-bit limbs) trains on batches drawn
from a 12-row data set by the seeded batch order. With public data the verifier evaluates the
batch stream itself; with committed data a data owner committed to the rows once and each
claim on the stream reduces to that commitment by a selection sumcheck ("phase-data"). Each
case runs over both modes and both range gadgets; each soundness case names the check that
must reject it.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from circuits.data import batch_order
from circuits.mlp import MlpCircuit
from cheats import recounted
from prover.backends import get_backend
from prover.commit import hyrax
from prover.commit.generators import prover_generators
from prover.training import ProverChannel, mlp_witness
from prover.zk_training import ZkProverChannel
from verifier.bundle import encode_bundle, parse_bundle, verify_bundle
from verifier.data import CommittedData, DatasetCommitment, PublicData
from verifier.errors import VerifyError
from verifier.hyrax import HyraxLayout
from verifier.training import TrainingStatement, TrainingWalk, verify_training
from verifier.zk_training import verify_training_zk
from zktrain.cli import main
from zktrain.data_commitment import DatasetOpening, commit_dataset, commit_training_rows, dataset_tensors, precommitted
from zktrain.prove import prove_run
from zktrain.run_config import RunConfigError, parse_run

ROWS, SEED = 12, 7
MODES = {"clear": (ProverChannel, verify_training), "zk": (ZkProverChannel, verify_training_zk)}
ROUND = {"clear": r"sumcheck round \d+: p\(0\) \+ p\(1\) does not match the claim",
         "zk": r"zk sumcheck round \d+: proof of dot product"}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << 16, size=(ROWS, 4))
    y = np.zeros((ROWS, 3), dtype=np.int64)
    y[np.arange(ROWS), rng.integers(0, 3, size=ROWS)] = 1 << 16
    return x, y


X, Y = _data()
W0 = (np.random.default_rng(1).integers(-(1 << 44), 1 << 44, size=(8, 4)),
      np.random.default_rng(2).integers(-(1 << 44), 1 << 44, size=(3, 8)))
B0 = (np.random.default_rng(3).integers(-(1 << 40), 1 << 40, size=8),
      np.random.default_rng(4).integers(-(1 << 40), 1 << 40, size=3))
BATCHES = batch_order(ROWS, 4, 3, SEED)


def _circuit(binding, gadget):
    return MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3, 2, 1), range_check=gadget, limb_bits=8,
                      data_binding=binding, dataset_rows=ROWS)


def _stream(values, rows, width):
    """The batch stream [T', B, width'] a statement of public data holds."""
    out = np.zeros((4, 4, width), dtype=np.int64)
    out[:3, :, : values.shape[1]] = values[rows]
    return out


class Run:
    """One binding x gadget x mode: its statement, the data owner's commitment, a prover."""

    def __init__(self, binding, gadget, mode):
        self.binding, self.gadget, self.mode = binding, gadget, mode
        self.c = _circuit(binding, gadget)
        self.channel, self.verify = MODES[mode]
        if binding == "public":
            data = PublicData(_stream(X, BATCHES, 4), _stream(Y, BATCHES, 4))
            self.tensors, self.pre = None, {}
        else:
            data = CommittedData(BATCHES)
            self.tensors = dataset_tensors(self.c.dataset_encoding(), X, Y)
            self.commitment, opening = commit_dataset(self.c.dataset_encoding(), X, Y, random.Random(5))
            self.pre = precommitted(self.commitment, opening, self.tensors)
        self.statement = TrainingStatement(self.c, b'{"run":"bound"}', W0, B0, data=data)

    def prove(self, x=X, y=Y, rows=BATCHES, edit=None, pre=None, walk=TrainingWalk, channel=None):
        """Train on the rows ``rows`` of (x, y) and prove it for this run's statement; ``edit``
        changes the witness before (a cheating data set's tensors)."""
        witness = mlp_witness(self.c, x[rows], y[rows], W0, B0, dataset=self.tensors)
        witness = witness if edit is None else recounted(self.c, edit(dict(witness)))
        ch = (channel or self.channel)(self.statement, witness, get_backend("cpu"), self.pre if pre is None else pre,
                                       random.Random(1))
        walk(self.statement, ch).run()
        return ch.public, ch.proof_bytes()

    def rejects(self, proof, match):
        with pytest.raises(VerifyError, match=match):
            self.verify(self.statement, *proof)

    def phase(self, label):
        return rf"^{label}: {ROUND[self.mode]}"


_RUNS: dict = {}


def _run(key):
    if key not in _RUNS:
        _RUNS[key] = Run(*key)
    return _RUNS[key]


def _keys(*bindings):
    return [(b, g, m) for b in bindings for g in ("limbs", "bits") for m in MODES]


@pytest.fixture(params=_keys("public", "committed"), ids="-".join)
def run(request):
    return _run(request.param)


@pytest.fixture(params=_keys("committed"), ids="-".join)
def committed(request):
    return _run(request.param)


@pytest.fixture(params=_keys("public"), ids="-".join)
def public(request):
    return _run(request.param)


class _RecklessWalk(TrainingWalk):
    def _require(self, ok, reason):
        pass


# --- completeness --------------------------------------------------------------------------


def test_honest_proof_verifies(run):
    assert run.verify(run.statement, *run.prove()) > 0


def test_committed_data_is_one_public_commitment_and_no_stream(committed):
    public, _ = committed.prove()
    assert set(public) == set(committed.statement.public_tensors())
    assert {name: public[name] for name in committed.commitment.tensors()} == committed.commitment.tensors()
    assert not any(name.startswith(("X.", "Y.")) for name in public)


def test_public_data_commits_nothing(public):
    public_tensors, _ = public.prove()
    assert not any(name.startswith(("X.", "Y.", "DX", "DY")) for name in public_tensors)


# --- soundness: committed data --------------------------------------------------------------


def test_selection_of_a_wrong_row_rejected(committed):
    """Step 1 trains on another row than the seeded order selects (its batch entry 2): the
    claims on the stream reduce, through the public selection, to the committed rows, which
    the selection sumcheck holds against the prover's stream."""
    rows = BATCHES.copy()
    rows[1, 2] = (rows[1, 2] + 1) % ROWS
    committed.rejects(committed.prove(rows=rows), committed.phase("phase-data"))


def test_stream_reordered_rejected(committed):
    """The batches of steps 0 and 1 swapped: every row is in the data set, in the wrong step."""
    committed.rejects(committed.prove(rows=BATCHES[[1, 0, 2]]), committed.phase("phase-data"))


def test_another_label_rejected(committed):
    """Step 0 trains on a label the data set does not hold: the walk's output gradient holds
    (the prover's label claim is what it trained on); the selection of the label stream fails."""
    y = Y.copy()
    row = BATCHES[0, 0]
    y[row] = np.roll(y[row], 1)
    committed.rejects(committed.prove(y=y), committed.phase("phase-data"))


def test_another_data_sets_commitment_rejected(committed):
    """The proof checked against a statement whose data commitment is another data set's:
    the transcript absorbs every public commitment first, so the first phase fails."""
    public, proof = committed.prove()
    x, y = _data(seed=9)
    other, _ = commit_dataset(committed.c.dataset_encoding(), x, y, random.Random(6))
    with pytest.raises(VerifyError, match=committed.phase("phase-1")):
        committed.verify(committed.statement, {**public, **other.tensors()}, proof)


def _cheating_data_set(run, slots_edit, value_edit):
    """(edit, precommitted) of a data owner who committed edited tensors: ``slots_edit`` and
    ``value_edit`` change DX.s and DX in place; the owner commits what it edited."""
    c = run.c
    tensors = {k: v.copy() for k, v in dataset_tensors(c.dataset_encoding(), X, Y).items()}
    slots_edit(tensors[c.ranged("DX")], c.x_slots())
    value_edit(tensors["DX"])
    commitment, opening = _commit_slots(c, tensors)

    def edit(witness):
        return {**witness, **tensors}

    return edit, precommitted(commitment, opening, tensors)


def _commit_slots(c, tensors):
    """The data owner's commitment to given slots tensors (a cheating owner's)."""
    encoding = c.dataset_encoding()
    rows, blinds = [], {}
    for name, layout in encoding.layouts().items():
        flat = tensors[name].reshape(-1).astype(np.int64)
        com, wit = hyrax.commit(prover_generators(), flat, HyraxLayout.square(layout.num_vars), 20, random.Random(8))
        rows.append(com)
        blinds[name] = wit.blinds
    commitment = DatasetCommitment(encoding, *rows)
    return commitment, DatasetOpening(commitment.digest(), blinds)


def test_data_set_value_out_of_range_rejected(committed):
    """The data owner committed an input of 2^17, one past the declared 17 bits (its top slot
    holds 2), and the run trains on it: segment 0's range check of the data set refuses it
    (the logUp sum with limbs, the booleanity zero-check of phase 1 with bits)."""
    row = BATCHES[0, 0]

    def slots_edit(slots, d):
        slots[row, 0] = 0
        slots[row, 0, d.num_slots - 1] = 2
        assert d.compose(slots[row, 0]) == 1 << 17

    def value_edit(values):
        values[row, 0] = 1 << 17

    edit, pre = _cheating_data_set(committed, slots_edit, value_edit)
    x = X.copy()
    x[row, 0] = 1 << 17
    expected = r"^logup-top: " if committed.gadget == "limbs" else committed.phase("phase-1")
    committed.rejects(committed.prove(x=x, edit=edit, pre=pre), expected)


def test_nonzero_padding_row_in_the_data_set_rejected(committed):
    """A padded row of the data set (row 12 of 16) holds a value: no batch selects it, but the
    data set's padding is forced by a zero-check (phase 1), as the private stream's is."""

    def slots_edit(slots, d):
        slots[ROWS, 0, 0] = 1

    def value_edit(values):
        values[ROWS, 0] = 1

    edit, pre = _cheating_data_set(committed, slots_edit, value_edit)
    committed.rejects(committed.prove(edit=edit, pre=pre), committed.phase("phase-1"))


# --- soundness: public data -----------------------------------------------------------------


def test_training_on_other_inputs_rejected(public):
    """The prover trains on an input the public data does not hold: the claims on the inputs
    are checked against the verifier's own evaluation of the stream."""
    x = X.copy()
    x[BATCHES[1, 0], 2] += 1
    public.rejects(public.prove(x=x, walk=_RecklessWalk), r"^input claim is not the public data's$")


def test_training_on_other_labels_rejected(public):
    """Another label: the output gradient is checked against the verifier's labels."""
    y = Y.copy()
    row = BATCHES[0, 0]
    y[row] = np.roll(y[row], 1)
    public.rejects(public.prove(y=y, walk=_RecklessWalk), r"^output gradient is not Y_hat - Y$")


# --- bundles, run files and the CLI ---------------------------------------------------------


def _tiny(binding, tmp_path, zk=False, segment_steps=None, **data):
    """The tiny run file with its data bound as asked (committed data reads the files that
    ``commit-data`` wrote into tmp_path from the exported data set)."""
    cfg = tiny_run({"zk": zk, "segment_steps": segment_steps}, name=f"tiny-{binding}")
    if binding == "committed":
        cfg["data"] = {"source": "npz", "path": str(tmp_path / "data.npz"), "binding": "committed",
                       "commitment": str(tmp_path / "data.commitment"), "opening": str(tmp_path / "data.opening"),
                       **data}
    else:
        cfg["data"] = {**cfg["data"], "binding": binding, **data}
    return cfg


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The tiny run's data set exported, a data owner's commitment to it, and bundles of
    public data (clear) and committed data (ZK, two segments), with the CLI."""
    d = tmp_path_factory.mktemp("bound")
    (d / "tiny.yaml").write_text(yaml.safe_dump(_tiny("private", d)))
    runner = CliRunner()
    result = runner.invoke(main, ["export-data", str(d / "tiny.yaml"), "--out", str(d / "data.npz")])
    assert result.exit_code == 0 and "51 training rows" in result.output, result.output
    result = runner.invoke(main, ["commit-data", str(d / "data.npz"), "--out", str(d / "data.commitment"),
                                  "--opening", str(d / "data.opening")])
    assert result.exit_code == 0 and "SECRET" in result.output, result.output
    out = {"dir": d}
    for binding, zk, steps in (("public", False, None), ("committed", True, 2)):
        (d / f"{binding}.yaml").write_text(yaml.safe_dump(_tiny(binding, d, zk, steps)))
        result = runner.invoke(main, ["prove", "--run", str(d / f"{binding}.yaml"), "--out", str(d / f"{binding}.zkp")])
        assert result.exit_code == 0, result.output
        out[binding] = (d / f"{binding}.zkp").read_bytes()
    return out


def test_public_data_verifies_with_the_data_set_only(files):
    data = files["dir"] / "data.npz"
    report = verify_bundle(files["public"], dataset=data)
    assert report.accepted and report.artifacts["data"].startswith("public: the given data set"), report.reason
    assert not verify_bundle(files["public"]).accepted
    assert verify_bundle(files["public"]).reason == "the bundle's data is public: verify it with the data set (--data FILE)"


def test_another_data_set_file_refused_by_name(files, tmp_path):
    """One input of one training row changed: the encoded rows' digest is not the recipe's."""
    with np.load(files["dir"] / "data.npz") as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    arrays["X"][5, 1] += 0.25
    np.savez(tmp_path / "other.npz", **arrays)
    report = verify_bundle(files["public"], dataset=tmp_path / "other.npz")
    assert not report.accepted
    assert re.match(r"^data set .*other\.npz: its encoded rows have SHA-256 [0-9a-f]{64}, the recipe's data is", report.reason)


@pytest.mark.parametrize("change, reason", [
    (lambda a: a.pop("y"), r"no array 'y'"),
    (lambda a: a.update(X=a["X"][:-1]), r"X has shape \(50, 4\)"),
    (lambda a: a.update(y=a["y"].astype(np.float64)), r"y has shape \(51,\) and dtype float64"),
    (lambda a: a.update(X=a["X"] * 16), r"X encoded at 2\^16 does not fit the recipe's 19 signed bits"),
], ids=["no labels", "a row short", "float labels", "inputs too wide"])
def test_malformed_data_set_files_refused(files, tmp_path, change, reason):
    with np.load(files["dir"] / "data.npz") as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    report = verify_bundle(files["public"], dataset=tmp_path / "bad.npz")
    assert not report.accepted and re.search(reason, report.reason), report.reason
    assert not verify_bundle(files["public"], dataset=b"not an npz").accepted


def test_committed_data_verifies_against_the_published_commitment(files):
    commitment = files["dir"] / "data.commitment"
    report = verify_bundle(files["committed"], data_commitment=commitment)
    assert report.accepted and len(report.segments) == 2, report.reason
    assert report.artifacts["data"].startswith("committed: the given data commitment")
    report = verify_bundle(files["committed"])
    assert report.accepted and "no published commitment given" in report.artifacts["data"]


def test_another_data_sets_commitment_file_refused(files, tmp_path):
    with np.load(files["dir"] / "data.npz") as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    arrays["X"][0, 0] += 0.5
    np.savez(tmp_path / "other.npz", **arrays)
    other, _ = commit_training_rows(tmp_path / "other.npz")
    report = verify_bundle(files["committed"], data_commitment=other.to_bytes())
    assert not report.accepted
    assert re.match(r"^data commitment: digest [0-9a-f]{64}, but the bundle's data is committed by", report.reason)


def test_bundle_carrying_another_commitment_refused(files, tmp_path):
    """The data owner's rows in the bundle replaced by another data set's: the recipe names the
    commitment by its digest, so the bundle's own data section must hash to it."""
    parsed = parse_bundle(files["committed"])
    with np.load(files["dir"] / "data.npz") as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    arrays["X"][0, 0] += 0.5
    np.savez(tmp_path / "other.npz", **arrays)
    other, _ = commit_training_rows(tmp_path / "other.npz")
    mine = parsed.dataset.x.to_bytes() + parsed.dataset.y.to_bytes()
    spliced = files["committed"].replace(mine, other.x.to_bytes() + other.y.to_bytes(), 1)
    report = verify_bundle(spliced)
    assert not report.accepted and report.reason.startswith("bundle: its data commitment has digest"), report.reason


def test_artifacts_of_another_binding_refused(files):
    """Handing the verifier an artifact the bundle's binding does not use is an error, so that
    nobody believes a check that did not happen."""
    commitment, data = files["dir"] / "data.commitment", files["dir"] / "data.npz"
    report = verify_bundle(files["public"], dataset=data, data_commitment=commitment)
    assert report.reason == "a data commitment was given, but the bundle's data is public, not committed"
    report = verify_bundle(files["committed"], dataset=data)
    assert report.reason == "a data set was given, but the bundle's data is committed, not public"


def test_cli_verifies_bound_data(files):
    d, runner = files["dir"], CliRunner()
    result = runner.invoke(main, ["verify", str(d / "public.zkp"), "--data", str(d / "data.npz")])
    assert result.exit_code == 0 and "data: public: the given data set" in result.output, result.output
    result = runner.invoke(main, ["verify", str(d / "committed.zkp"), "--data-commitment", str(d / "data.commitment"), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["artifacts"]["data"].startswith("committed: the given")
    result = runner.invoke(main, ["verify", str(d / "public.zkp")])
    assert result.exit_code == 1 and "--data FILE" in result.output


@pytest.mark.parametrize("data, reason", [
    ({"binding": "committed", "commitment": None}, "data.commitment: committed data needs the data owner's commitment"),
    ({"binding": "public", "commitment": "x.commitment"}, "data.commitment: only with binding: committed"),
    ({"binding": "owned"}, "data.binding: must be one of private, public, committed"),
])
def test_run_file_data_binding_errors(tmp_path, data, reason):
    cfg = _tiny("private", tmp_path)
    cfg["data"] = {**cfg["data"], **{k: v for k, v in data.items() if v is not None}}
    with pytest.raises(RunConfigError, match=reason):
        parse_run(cfg)


def test_run_file_refuses_a_commitment_of_other_rows(files, tmp_path):
    """A trainer whose data is not the rows the data owner committed to is told so before any
    proving: another number of rows by the run file (naming the commitment), other values by
    the opening check of the prover (``zktrain.data_commitment.precommitted``)."""
    d = files["dir"]
    with np.load(d / "data.npz") as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    np.savez(tmp_path / "split.npz", X=arrays["X"], y=arrays["y"])  # no test part: a seeded split
    cfg = _tiny("committed", d, path=str(tmp_path / "split.npz"))
    with pytest.raises(RunConfigError, match=r"^data.commitment: commits to rows 51, this run has 41$"):
        parse_run(cfg)
    arrays["X"][3, 2] += 0.5
    np.savez(tmp_path / "other.npz", **arrays)
    cfg = _tiny("committed", d, path=str(tmp_path / "other.npz"))
    with pytest.raises(ValueError, match=r"^data: the rows given do not open the data commitment \(DX.limbs differs\)$"):
        prove_run(parse_run(cfg))


# --- the data commitment file, parsed as untrusted bytes ----------------------------------------


@pytest.fixture(scope="module")
def commitment_bytes():
    enc = _circuit("committed", "limbs").dataset_encoding()
    commitment, _ = commit_dataset(enc, X, Y, random.Random(11))
    return commitment, commitment.to_bytes()


def _with_header(data: bytes, header: bytes) -> bytes:
    length = int.from_bytes(data[10:14], "little")
    return data[:10] + len(header).to_bytes(4, "little") + header + data[14 + length :]


@pytest.mark.parametrize("edit, reason", [
    (lambda d: b"ZKDATA\x00\x01" + d[8:], "not a zktrain data commitment \\(bad magic\\)"),
    (lambda d: d[:8] + (2).to_bytes(2, "little") + d[10:], "unsupported version 2"),
    (lambda d: d[:10] + (4097).to_bytes(4, "little") + d[14:], "header of 4097 bytes exceeds 4096"),
    (lambda d: _with_header(d, d[14:14 + int.from_bytes(d[10:14], "little")].replace(b"{", b"{ ", 1)),
     "header not in canonical form"),
    (lambda d: _with_header(d, b'{"rows":[[1]]}'), "JSON nested deeper than 1$"),
    (lambda d: _with_header(d, b'{"rows":1}'), "malformed header"),
    (lambda d: _with_header(d, b"\xff"), "malformed header"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "1 trailing bytes"),
], ids=["magic", "version", "header length", "whitespace", "nesting", "missing fields", "not ascii",
        "truncated", "trailing"])
def test_malformed_data_commitment_files_refused_by_name(commitment_bytes, edit, reason):
    _, data = commitment_bytes
    assert DatasetCommitment.from_bytes(data) == commitment_bytes[0]  # positive control
    with pytest.raises(VerifyError, match=f"^data commitment: {reason}"):
        DatasetCommitment.from_bytes(edit(data))


def test_data_commitment_rows_must_fit_its_encoding(commitment_bytes):
    commitment, _ = commitment_bytes
    with pytest.raises(ValueError, match="data commitment: DX.limbs has 2 rows, its layout 16"):
        DatasetCommitment(commitment.encoding, type(commitment.x)(commitment.x.rows[:2]), commitment.y)


def test_encode_bundle_carries_a_commitment_exactly_for_committed_data(files):
    """The prover's encoder refuses a bundle whose data section would contradict the recipe."""
    parsed = parse_bundle(files["committed"])
    statements = [seg.statement for seg in parsed.segments]
    segments = [(seg.public, seg.proof) for seg in parsed.segments]
    with pytest.raises(ValueError, match="exactly when the data is committed"):
        encode_bundle(statements, segments, zk=True)
    public = parse_bundle(files["public"])
    with pytest.raises(ValueError, match="exactly when the data is committed"):
        encode_bundle([s.statement for s in public.segments], [(s.public, s.proof) for s in public.segments],
                      dataset=parsed.dataset)
