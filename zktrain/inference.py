"""``zktrain prove-inference``: prove that a trained model maps given inputs to its logits.

Pipeline: the training bundle (parsed: its recipe and its last segment's W{l}.T, b{l}.T
commitments) -> the model file (``verifier.model``: the final weights with the row blinds that
open those commitments, checked against them, so a model of another run or of another proof
is refused here by name) -> the inputs (an .npz with an array ``X`` of raw features [N, d_0],
encoded as training encodes them, ``verifier.inference_inputs.read_inputs``, in the recipe's
input width) -> the exact forward pass (``zktrain.fixedpoint.engine``) -> the witness, for
committed inputs a fresh hiding commitment to their slots X.s, and the proof
(``prover.inference``; the weights' commitments are reused, never recomputed) -> the inference
bundle (``verifier.inference_bundle``), which names the training bundle by its SHA-256 and
holds the inputs or their commitment; for committed inputs the summary also carries their
opening (``verifier.inference_inputs.InputsOpening``), which the caller keeps to disclose the
inputs later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from circuits.inference import InferenceCircuit
from circuits.mlp import NORM_STATE
from circuits.recipe import Recipe
from prover.backends import get_backend
from prover.inference import (
    commit_inputs,
    forward_records,
    inference_witness,
    input_opening,
    prove_inference,
    weight_openings,
)
from verifier.bundle import parse_bundle
from verifier.encoding import read_artifact
from verifier.errors import VerifyError
from verifier.inference import InferenceStatement
from verifier.inference_bundle import encode_inference_bundle, training_digest
from verifier.inference_inputs import InputsOpening, commitment_digest, read_inputs
from verifier.model import check_model, parse_model

from .fixedpoint.engine import FixedPointMLP, WidthError


@dataclass
class InferenceSummary:
    rows: int
    zk: bool
    predictions: list[int]
    #: the fixed-point logits [N, d_L] at 2^R
    logits: np.ndarray
    witness_seconds: float
    prove_seconds: float
    bundle_bytes: int
    proof_bytes: int
    #: prove time by kind (commit, sumcheck, logup, open, messages)
    timings: dict[str, float]
    #: whether the bundle holds a commitment to the inputs instead of the inputs
    committed_inputs: bool = False
    #: committed inputs: the opening of that commitment (secret; ``to_bytes()`` is the file)
    inputs_opening: InputsOpening | None = None


def _read(source, what: str) -> tuple[bytes, str]:
    """An input file (path or bytes) and its name for errors; ValueError if unreadable."""
    try:
        return read_artifact(source, what)
    except VerifyError as err:
        raise ValueError(str(err)) from None


def load_inputs(source, recipe: Recipe) -> np.ndarray:
    """The inputs of an .npz file (its path or bytes): array ``X`` of N rows of d_0 raw
    features, encoded at 2^R (int64 [N, d_0]); ValueError naming the file and the array (the
    verifier's reader, which checks a disclosed inputs file the same way)."""
    data, what = _read(source, "inputs")
    try:
        return read_inputs(data, recipe, what)
    except VerifyError as err:
        raise ValueError(str(err)) from None


def prove_inference_run(
    model, training, inputs, zk: bool | None = None, range_check: str = "limbs", backend: str = "auto",
    progress: Callable[[str], None] | None = None, committed_inputs: bool = False, rng=None,
) -> tuple[bytes, InferenceSummary]:
    """Prove the predictions of the model file ``model`` for the inputs file ``inputs``
    against the training bundle ``training`` (each a path or bytes); ``zk`` None takes the
    training bundle's mode. ``committed_inputs``: the bundle holds a hiding commitment to the
    inputs instead of the inputs (``summary.inputs_opening`` opens it; blinds from the OS RNG,
    ``rng`` only in tests). Returns the inference bundle and a summary. Bad input raises
    ValueError naming the file and the field."""
    say = progress or (lambda _msg: None)
    raw, what = _read(training, "training bundle")
    try:
        parsed = parse_bundle(raw)
    except VerifyError as err:
        raise ValueError(f"{what}: {err}") from None
    recipe, final = parsed.recipe, parsed.final
    zk = parsed.zk if zk is None else zk
    model_bytes, model_what = _read(model, "model")
    try:
        disclosed = parse_model(model_bytes, recipe, parsed.zk, final.statement, model_what)
        check_model(disclosed, final.statement, final.public, what=model_what)
    except VerifyError as err:
        raise ValueError(str(err)) from None
    x = load_inputs(inputs, recipe)
    layers = recipe.model.layers
    weights = [disclosed.tensors[f"W{l}"] for l in range(1, layers + 1)]
    biases = [disclosed.tensors.get(f"b{l}") for l in range(1, layers + 1)]
    norms = None  # Ghost BN's trained state per hidden layer (model.norm: ghost_bn)
    if recipe.model.norm == "ghost_bn":
        norms = [tuple(disclosed.tensors[f"bn{l}.{v}"] for v in NORM_STATE) for l in range(1, layers)]

    t0 = time.perf_counter()
    try:
        forward = FixedPointMLP(recipe, weights, biases, norms=norms).forward_layers(x)
    except WidthError as err:
        raise ValueError(f"inputs: the forward pass leaves the recipe's widths: {err}") from None
    logits = forward[-1][0]
    circuit = InferenceCircuit.from_recipe(recipe, x.shape[0], range_check, committed_inputs)
    witness = inference_witness(circuit, forward_records(circuit, x, forward, norms), weights, biases)
    opening = None
    if committed_inputs:  # X.s committed afresh: the statement holds the commitment, the caller the blinds
        committed, opened = commit_inputs(circuit, witness, rng)
        statement = InferenceStatement(circuit, recipe.to_canonical_json(), training_digest(raw), None, logits,
                                       committed)
        opening = InputsOpening(commitment_digest(committed), list(opened.blinds))
        precommitted = input_opening(statement, (committed, opened))
    else:
        statement = InferenceStatement(circuit, recipe.to_canonical_json(), training_digest(raw), x, logits)
        precommitted = {}
    precommitted.update(weight_openings(statement, final.public, witness, disclosed.blinds))
    witness_s = time.perf_counter() - t0
    say(f"forward pass of {x.shape[0]} inputs in the fixed-point semantics ({witness_s:.2f} s)")

    t0 = time.perf_counter()
    try:
        field_backend = get_backend(backend)
    except ValueError as err:
        raise ValueError(f"backend: {err}") from None
    channel = prove_inference(statement, witness, field_backend, precommitted, zk, rng, progress=say)
    prove_s = time.perf_counter() - t0
    proof = channel.proof_bytes()
    bundle = encode_inference_bundle(statement, proof, zk)
    summary = InferenceSummary(x.shape[0], zk, statement.predictions, logits, witness_s, prove_s, len(bundle),
                               len(proof), dict(channel.timings), committed_inputs, opening)
    return bundle, summary
