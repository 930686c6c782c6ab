"""The inference bundle: one file per proof of inference, and ``verify_inference_bundle``
(issue 13, item 3; DESIGN sections 7 and 10: "an inference bundle is another kind byte and
names the training bundle's digest").

Layout (integers little-endian):

    header       15 bytes as a training bundle's (``verifier.bundle.read_header``): magic,
                 format version, curve, hash, mode (0 clear, 1 zero-knowledge), kind = 2
                 (``KIND_INFERENCE``), range gadget (1 limbs, 2 bits)
    training     32 bytes  SHA-256 of the training bundle's bytes (the bundle whose final
                           commitments W{l}.T, b{l}.T are the model's)
    rows         u32       N, 1 <= N <= ``circuits.inference.MAX_ROWS``
    inputs       u8        the inputs' binding: 0 public, 1 committed
    then, public inputs:
      inputs     N d_0 int64   X at 2^R, row-major: the raw features encoded as training
                           encodes them (``circuits.data.encode_inputs``), in the recipe's
                           input width
    or, committed inputs:
      X.s        rows x 48 bytes   the row commitments of the inputs' range slots X.s
                           [N', d_0', slots] (``circuits.inference``), their count fixed by
                           that layout (``HyraxLayout.square``)
    outputs      N d_L int64   the logits Z'_L at 2^R, row-major, in Q signed bits
    proof        u64 length + the proof body (``verifier.inference``)

d_0, d_L and the widths are the training recipe's. Nothing may follow. The predictions are not
in the bundle: the verifier computes them, the argmax of each row of logits. The opening of
committed inputs is not in the bundle either: the prover keeps it, and may disclose it with the
inputs later (``verifier.inference_inputs``).

Verification (``verify_inference_bundle``) accepts only if the training bundle's SHA-256 is
the recorded one, the training bundle verifies (``verifier.bundle``: all its segments, with
the data the auditor holds where its data is bound), and the inference proof verifies against
that bundle's last segment's W{l}.T, b{l}.T commitments (and, for committed inputs, the
bundle's X.s commitment); given the inputs (and, when committed, their opening), also that
they are the bundle's (``verifier.inference_inputs.bind_inputs``). Bounded work: N is bounded
and the bytes the inputs (values or commitment), the logits and the least proof body need are
checked before anything is allocated for them; the training bundle is parsed (bounded by its
own parser) before the inference bundle's body.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from circuits.inference import InferenceCircuit
from circuits.recipe import Recipe

from .bundle import (
    CURVE_BLS12_381,
    FORMAT_VERSION,
    HASH_SHAKE256,
    KIND_INFERENCE,
    KIND_TRAINING,
    MAGIC,
    MAX_PROOF_BYTES,
    MODE_CLEAR,
    MODE_ZK,
    RANGE_IDS,
    ParsedBundle,
    bind_data,
    parse_bundle,
    read_header,
    verify_segments,
)
from .curve import POINT_BYTES
from .encoding import Reader, read_artifact
from .errors import VerifyError
from .hyrax import HyraxCommitment, HyraxLayout
from .inference import DIGEST_BYTES, INPUTS_COMMITTED, INPUTS_PUBLIC, InferenceStatement, verify_inference
from .inference_inputs import bind_inputs
from .transcript import soundness_bits

_INT64 = np.dtype("<i8")


@dataclass
class InferenceReport:
    """The outcome of verifying an inference bundle, for humans and pipelines (``--json``).

    On acceptance: ``predictions`` (the argmax of each row of logits, the lowest index on a
    tie), ``logits`` (the fixed-point logits, reals = value / 2^frac_bits), the soundness bits
    of the inference proof and of the training bundle (``verifier.transcript``), ``inputs``:
    "public" (in the bundle), "committed" (a commitment in the bundle, not disclosed) or
    "disclosed" (committed, and the inputs file given with its opening opens the commitment),
    and ``artifacts``: what the accepted proofs bind the model and the inputs to, in words."""

    accepted: bool
    reason: str
    training_digest: str | None = None
    recipe_name: str | None = None
    recipe_digest: str | None = None
    mode: str | None = None
    training_mode: str | None = None
    range_check: str | None = None
    rows: int | None = None
    inputs: str | None = None
    widths: list[int] | None = None
    frac_bits: int | None = None
    predictions: list[int] = field(default_factory=list)
    logits: list[list[int]] = field(default_factory=list)
    bundle_bytes: int = 0
    proof_bytes: int = 0
    seconds: float = 0.0
    soundness_bits: float | None = None
    training_soundness_bits: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def training_digest(training: bytes) -> bytes:
    """The name an inference bundle records for its training bundle: SHA-256 of its bytes."""
    return hashlib.sha256(training).digest()


def encode_inference_bundle(statement: InferenceStatement, proof: bytes, zk: bool) -> bytes:
    """The bundle of an inference proof (module docstring)."""
    c = statement.circuit
    return b"".join([
        MAGIC,
        FORMAT_VERSION.to_bytes(2, "little"),
        bytes([CURVE_BLS12_381, HASH_SHAKE256, MODE_ZK if zk else MODE_CLEAR, KIND_INFERENCE,
               RANGE_IDS[c.range_check]]),
        statement.training_digest,
        c.rows.to_bytes(4, "little"),
        bytes([statement.inputs_byte()]),
        statement.input_commitment.to_bytes() if c.committed_inputs else b"",
        statement.public_values(),
        len(proof).to_bytes(8, "little"),
        proof,
    ])


@dataclass
class ParsedInference:
    statement: InferenceStatement
    proof: bytes
    zk: bool


def read_preamble(reader: Reader) -> tuple[bool, str, bytes]:
    """The header of an inference bundle and the training digest it records: (zk, range
    gadget, digest). A training bundle is refused by name."""
    zk, kind, range_check = read_header(reader)
    if kind == KIND_TRAINING:
        raise VerifyError("a training bundle, not an inference bundle: verify it without --training")
    return zk, range_check, reader.take(DIGEST_BYTES)


def parse_inference_bundle(data: bytes, recipe: Recipe) -> ParsedInference:
    """Parse an inference bundle for the training recipe ``recipe`` (which gives the widths);
    raises VerifyError (with a reason) on anything off, before allocating for what a field
    declares."""
    reader = Reader(data, "inference bundle")
    zk, range_check, digest = read_preamble(reader)
    rows = int.from_bytes(reader.take(4), "little")
    binding = reader.take(1)[0]
    if binding not in (INPUTS_PUBLIC, INPUTS_COMMITTED):
        raise VerifyError(f"inference bundle: unknown inputs byte {binding} (0 public, 1 committed)")
    committed = binding == INPUTS_COMMITTED
    try:
        circuit = InferenceCircuit.from_recipe(recipe, rows, range_check, committed)
    except ValueError as err:
        raise VerifyError(f"inference bundle: {err}") from None
    d_in, d_out = circuit.widths[0], circuit.widths[-1]
    if committed:
        layout = circuit.committed_ranges()[circuit.input_tensor()].layout
        commitment_rows = HyraxLayout.square(layout.num_vars).num_rows
        reader.expect(POINT_BYTES * commitment_rows + _INT64.itemsize * rows * d_out + 8)
        inputs, commitment = None, HyraxCommitment(tuple(reader.points(commitment_rows)))
    else:
        reader.expect(_INT64.itemsize * rows * (d_in + d_out) + 8)
        inputs = np.frombuffer(reader.take(_INT64.itemsize * rows * d_in), _INT64).reshape(rows, d_in).astype(np.int64)
        commitment = None
    outputs = np.frombuffer(reader.take(_INT64.itemsize * rows * d_out), _INT64).reshape(rows, d_out).astype(np.int64)
    try:
        statement = InferenceStatement(circuit, recipe.to_canonical_json(), digest, inputs, outputs, commitment)
    except ValueError as err:
        raise VerifyError(f"inference bundle: {err}") from None
    length = int.from_bytes(reader.take(8), "little")
    if length > min(reader.remaining, MAX_PROOF_BYTES):
        raise VerifyError(f"inference bundle: proof body declares {length} bytes but {reader.remaining} follow "
                          f"(truncated)")
    least = statement.min_proof_bytes(zk)
    if length < least:
        raise VerifyError(f"inference bundle: proof body of {length} bytes is shorter than the {least} its "
                          f"statement implies")
    proof = reader.take(length)
    if reader.remaining:
        raise VerifyError(f"inference bundle: {reader.remaining} trailing bytes after the proof")
    return ParsedInference(statement, proof, zk)


def _training(training, digest: bytes) -> ParsedBundle:
    """The training bundle (bytes or path), checked against the recorded digest, parsed."""
    raw, what = read_artifact(training, "training bundle")
    actual = training_digest(raw)
    if actual != digest:
        raise VerifyError(f"the inference bundle names the training bundle of SHA-256 {digest.hex()}, but {what} "
                          f"has {actual.hex()}")
    try:
        return parse_bundle(raw)
    except VerifyError as err:
        raise VerifyError(f"{what}: {err}") from None


def verify_inference_bundle(
    data: bytes, training, curve: str = "blst", *, dataset=None, data_commitment=None, inputs=None,
    inputs_opening=None,
) -> InferenceReport:
    """The embeddable API: ACCEPT or REJECT with a reason; never raises on any input.

    ``training``: the training bundle the inference bundle names (its bytes or its path);
    ``dataset``, ``data_commitment``: what the auditor holds of its data, as for
    ``verifier.bundle.verify_bundle`` (its data binding must be satisfied for it to verify);
    ``inputs``, ``inputs_opening``: an inputs file (.npz, array X of raw features) and, for
    committed inputs, the opening ``prove-inference`` wrote, bytes or paths: checked against
    the bundle's inputs or their commitment once the proofs verify
    (``verifier.inference_inputs.bind_inputs``)."""
    start = time.perf_counter()
    report = InferenceReport(False, "", bundle_bytes=len(data) if isinstance(data, (bytes, bytearray)) else 0)
    try:
        zk, _, digest = read_preamble(Reader(data, "inference bundle"))
        report.training_digest = digest.hex()
        parsed = _training(training, digest)
        recipe = parsed.recipe
        report.recipe_name, report.recipe_digest = recipe.name, recipe.digest().hex()
        report.mode, report.training_mode = ("zk" if zk else "clear"), ("zk" if parsed.zk else "clear")
        report.widths, report.frac_bits = list(recipe.model.widths), recipe.quant.frac_bits
        inference = parse_inference_bundle(data, recipe)
        statement = inference.statement
        report.range_check, report.rows = statement.circuit.range_check, statement.circuit.rows
        report.proof_bytes = len(inference.proof)
        data_binding = bind_data(parsed, dataset, data_commitment)
        try:
            training_degrees = verify_segments(parsed, curve)
        except VerifyError as err:
            raise VerifyError(f"training bundle: {err}") from None
        final = parsed.final.public
        weights = {name: final[name] for name in statement.weight_tensors()}
        degrees = verify_inference(statement, weights, inference.proof, inference.zk, curve)
        report.inputs, inputs_binding = bind_inputs(statement, recipe, inputs, inputs_opening, curve)
        report.accepted = True
        report.reason = "the proof of inference verifies against the final commitments of a training bundle that verifies"
        report.predictions = statement.predictions
        report.logits = statement.outputs.tolist()
        report.soundness_bits = soundness_bits(degrees)
        report.training_soundness_bits = soundness_bits(training_degrees)
        names = ", ".join(statement.public_tensors())
        report.artifacts = {
            "model": f"the trained model: the final commitments ({names}) of the training bundle of SHA-256 "
                     f"{digest.hex()}, which verifies",
            "inputs": inputs_binding,
            "data": data_binding,
        }
    except VerifyError as err:
        report.reason = str(err)
    except Exception as err:  # malformed input must never crash the caller (DESIGN section 7)
        report.reason = f"malformed input ({type(err).__name__}: {err})"
    report.seconds = time.perf_counter() - start
    return report
