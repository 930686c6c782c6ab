"""The trained model as an artifact: the model file and its check against a bundle (issue 13,
item 2; DESIGN section 10, "the trained model leaves ``prove`` as a file with the opening of
W_T; a disclosed model is checked against the row commitments by one random linear
combination").

The model file (``zktrain prove`` writes it beside the bundle as ``NAME.model.npz``) is a numpy
``.npz`` archive of these arrays, all little-endian, none pickled; ``l`` runs over the layers
1..L, ``d_l`` are the recipe's widths (unpadded):

    version        int64   ()                 MODEL_VERSION
    recipe_digest  uint8   (32,)              ``Recipe.digest()`` of the bundle's recipe
    mode           <U5     ()                 "clear" or "zk": the mode of the bundle it came from
    scale_bits     int64   ()                 2R + k: the master scale (``circuits.semantics.Scales``)
    W{l}           int64   (d_l, d_{l-1})     the final master weights W_T at 2^(2R+k)
    b{l}           int64   (d_l,)             the final master biases b_T at 2^(2R+k) (when model.bias)
    W{l}.float32   float32 (d_l, d_{l-1})     W{l} / 2^(2R+k), rounded by ``float_copy``
    b{l}.float32   float32 (d_l,)             b{l} / 2^(2R+k), the same way
    W{l}.blinds    uint8   (rows, 32)         the opening of the bundle's ``W{l}.T``: the blinding
                                              factor of each Hyrax row, a canonical field element
                                              in 32 bytes little-endian (DESIGN section 9)
    b{l}.blinds    uint8   (rows, 32)         the same for ``b{l}.T``

With ``model.norm: ghost_bn`` (docs/ghost_bn.md), per hidden layer l also the final state of
its Ghost BN, each with its ``.float32`` copy and ``.blinds`` (the opening of ``bn{l}.*.T``):

    bn{l}.Gamma    int64   (d_l,)             gamma at 2^(2R+k), within the weight width
    bn{l}.beta     int64   (d_l,)             beta at 2^(2R+k), likewise
    bn{l}.RM       int64   (d_l,)             the running mean at 2^(2R) (its ``.float32`` / 2^(2R))
    bn{l}.RV       int64   (d_l,)             the running variance at 2^(2R), likewise

The blinds with the values open the last segment's ``W{l}.T``, ``b{l}.T`` commitments: in the
zero-knowledge mode the file is secret (whoever holds it can open the commitments, hence learn
and prove the weights); disclosing it is disclosing the model.

The check (``verifier.disclosure``, which the committed inputs of a proof of inference share):
one random linear combination of each tensor's row commitments against the disclosed rows and
blinds, the weights drawn after the opening is absorbed: error 1/r per tensor.

Parsing is defensive (``verifier.disclosure.NpzArchive``): the archive is read with
``allow_pickle=False``; each array's header (dtype and shape) is checked against the recipe
before its data is read, so nothing the file declares is allocated unchecked; every failure is
a ``VerifyError`` naming the file and the array. This module imports nothing from ``prover``
or ``zktrain``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from circuits.recipe import Recipe

from . import field
from .disclosure import NpzArchive, blinds_array, check_opening, padded_matrix, read_blinds
from .encoding import read_artifact
from .errors import VerifyError
from .hyrax import HyraxCommitment, HyraxLayout
from .training import TrainingStatement

MODEL_VERSION = 1
MODES = ("clear", "zk")

_INT64, _FLOAT32, _UINT8, _MODE = np.dtype("<i8"), np.dtype("<f4"), np.dtype("|u1"), np.dtype("<U5")


def float_copy(values: np.ndarray, scale_bits: int) -> np.ndarray:
    """The float32 copy of master values at 2^scale_bits: int64 -> float64 (exact below 2^53,
    rounded to nearest even above), divided by a power of two (exact), rounded to float32.
    Writer and checker both call this, so the copy is one well-defined function of the ints."""
    return (np.asarray(values, dtype=np.int64).astype(np.float64) / float(1 << scale_bits)).astype(np.float32)


@dataclass(frozen=True)
class DisclosedModel:
    """A model file's content: the final master weights and biases by layer name ("W1", "b1",
    unpadded int64) and any Ghost BN state ("bn1.Gamma", ...), and the blinds of the rows of
    their commitments ("W1" opens "W1.T")."""

    recipe_digest: bytes
    mode: str
    scale_bits: int
    tensors: dict[str, np.ndarray]
    blinds: dict[str, list[int]]
    #: 2R, the running statistics' scale: ``model.norm: ghost_bn`` only (the file's ``stat_bits``).
    stat_bits: int | None = None

    def scale(self, name: str) -> int:
        return self.stat_bits if _is_statistic(name) else self.scale_bits

    def floats(self) -> dict[str, np.ndarray]:
        """The float32 copies, by layer name (each at its own scale, ``scale``)."""
        return {name: float_copy(values, self.scale(name)) for name, values in self.tensors.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """The file's arrays (module docstring), by name."""
        out = {
            "version": np.array(MODEL_VERSION, dtype=_INT64),
            "recipe_digest": np.frombuffer(self.recipe_digest, dtype=_UINT8).copy(),
            "mode": np.array(self.mode, dtype=_MODE),
            "scale_bits": np.array(self.scale_bits, dtype=_INT64),
        }
        if self.stat_bits is not None:
            out["stat_bits"] = np.array(self.stat_bits, dtype=_INT64)
        floats = self.floats()
        for name, values in self.tensors.items():
            out[name] = np.asarray(values, dtype=_INT64)
            out[f"{name}.float32"] = floats[name]
            out[f"{name}.blinds"] = blinds_array(self.blinds[name])
        return out

    def to_bytes(self) -> bytes:
        """The ``.npz`` file (uncompressed; the writer of the file makes it atomic)."""
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **self.arrays())
        return buffer.getvalue()


def _is_statistic(name: str) -> bool:
    """A Ghost BN running statistic (``bn{l}.RM``, ``bn{l}.RV``), at 2^(2R) rather than 2^(2R+k)."""
    return name.split(".")[-1] in ("RM", "RV")


# --- what a recipe expects -----------------------------------------------------------------


def _layers(statement: TrainingStatement) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...]]]:
    """(name, committed tensor, shape, padded shape) of every final weight, bias and Ghost BN
    state (``bn{l}.Gamma``, ``bn{l}.beta``, ``bn{l}.RM``, ``bn{l}.RV``: [d_l])."""
    c = statement.circuit
    out = []
    for tensor in statement.parameter_tensors("T") + c.norm_state_tensors("T"):
        name = tensor.removesuffix(".T")
        layer = int(name[2:].split(".")[0]) if name.startswith("bn") else int(name[1:])
        if name.startswith("W"):
            shape = (c.widths[layer], c.widths[layer - 1])
            padded = (1 << c.width_vars(layer), 1 << c.width_vars(layer - 1))
        else:
            shape, padded = (c.widths[layer],), (1 << c.width_vars(layer),)
        out.append((name, tensor, shape, padded))
    return out


def expected_arrays(statement: TrainingStatement) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Every array of the model file of a statement's recipe: name -> (dtype, shape)."""
    out = {"version": (_INT64, ()), "recipe_digest": (_UINT8, (32,)), "mode": (_MODE, ()), "scale_bits": (_INT64, ())}
    if statement.circuit.has_norm:
        out["stat_bits"] = (_INT64, ())
    for name, tensor, shape, _ in _layers(statement):
        rows = HyraxLayout.square(statement.tensor_vars(tensor)).num_rows
        out[name] = (_INT64, shape)
        out[f"{name}.float32"] = (_FLOAT32, shape)
        out[f"{name}.blinds"] = (_UINT8, (rows, field.BYTES))
    return out


# --- parsing -------------------------------------------------------------------------------


def parse_model(data: bytes, recipe: Recipe, zk: bool, statement: TrainingStatement, what: str = "model") -> DisclosedModel:
    """Read a model file for the bundle of ``recipe`` in mode ``zk`` whose last segment is
    ``statement``: every array present, of its dtype and shape, in range (weights and biases
    within the recipe's weight width, floats the exact copies, blinds canonical), and the
    recipe digest, mode and scale those of the bundle. Raises ``VerifyError`` naming the array."""
    archive = NpzArchive(data, what, expected_arrays(statement), "a model file", "the recipe's")
    # Version and digest first: a model of another run (other widths, other layers) is named
    # as such, before its arrays fail to be this recipe's.
    version = int(archive.array("version"))
    if version != MODEL_VERSION:
        raise VerifyError(f"{what}: model file version {version}, this verifier reads {MODEL_VERSION}")
    digest = archive.array("recipe_digest").tobytes()
    if digest != recipe.digest():
        raise VerifyError(f"{what}: recipe_digest {digest.hex()[:16]}... differs from the bundle's recipe "
                          f"{recipe.digest().hex()[:16]}... (a model of another run)")
    mode = str(archive.array("mode"))
    if mode != MODES[zk]:
        raise VerifyError(f"{what}: mode {mode!r} differs from the bundle's mode {MODES[zk]!r}")
    scale_bits = int(archive.array("scale_bits"))
    if scale_bits != recipe.scales.weight:
        raise VerifyError(f"{what}: scale_bits {scale_bits} differs from the recipe's 2R + k = {recipe.scales.weight}")
    stat_bits = None
    if statement.circuit.has_norm:
        stat_bits = int(archive.array("stat_bits"))
        if stat_bits != 2 * recipe.quant.frac_bits:
            raise VerifyError(f"{what}: stat_bits {stat_bits} differs from the recipe's 2R = {2 * recipe.quant.frac_bits}")
    archive.refuse_unexpected()
    widths = _widths(recipe, statement)
    tensors, blinds = {}, {}
    for name, _, _, _ in _layers(statement):
        values = archive.array(name)
        lo, hi, kind = widths[name.split(".")[-1] if _is_statistic(name) else "weight"]
        outside = (values < lo) | (values > hi)
        if outside.any():
            index = tuple(int(i) for i in np.argwhere(outside)[0])
            raise VerifyError(f"{what}: {name}{list(index)} = {values[index]} lies outside the recipe's {kind}")
        scale = stat_bits if _is_statistic(name) else scale_bits
        if not np.array_equal(archive.array(f"{name}.float32"), float_copy(values, scale)):
            raise VerifyError(f"{what}: {name}.float32 is not {name} / 2^{scale} in float32")
        tensors[name], blinds[name] = values, read_blinds(archive.array(f"{name}.blinds"), f"{name}.blinds", what)
    return DisclosedModel(digest, mode, scale_bits, tensors, blinds, stat_bits)


def _widths(recipe: Recipe, statement: TrainingStatement) -> dict[str, tuple[int, int, str]]:
    """(lo, hi, in words) of a weight, bias, gamma or beta (the recipe's weight width) and of the
    running mean and variance (``RM``, ``RV``: their widths in ``circuits.ghost_bn``)."""
    w = recipe.declared_widths()["weight"]
    out = {"weight": (w.lo, w.hi, f"{w.bits}-bit weight width")}
    if statement.circuit.has_norm:
        spec = statement.circuit.norm_spec().widths()
        for kind, key in (("RM", "running_mean"), ("RV", "running_var")):
            bits, signed = spec[key]
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            out[kind] = (lo, hi, f"{bits}-bit {key.replace('_', ' ')} width")
    return out


# --- the check against the commitments ----------------------------------------------------


def check_model(
    model: DisclosedModel, statement: TrainingStatement, commitments: Mapping[str, HyraxCommitment],
    curve: str = "blst", what: str = "model",
) -> None:
    """Every final weight and bias of ``model`` opens the last segment's commitment to it."""
    for name, tensor, _, padded in _layers(statement):
        layout = HyraxLayout.square(statement.tensor_vars(tensor))
        matrix = padded_matrix(model.tensors[name], padded, layout)
        check_opening(name, tensor, commitments[tensor], layout, matrix, model.blinds[name], curve, what)


def verify_model(
    weights, recipe: Recipe, zk: bool, statement: TrainingStatement,
    commitments: Mapping[str, HyraxCommitment], curve: str = "blst",
) -> str:
    """Check a model file (its bytes or its path) against a verified bundle's recipe, mode and
    last segment (``statement``, ``commitments``); returns what it binds, in words
    (``Report.artifacts["model"]``). Raises ``VerifyError`` naming the file and what is wrong."""
    data, what = read_artifact(weights, "model")
    model = parse_model(data, recipe, zk, statement, what)
    check_model(model, statement, commitments, curve, what)
    names = ", ".join(tensor for _, tensor, _, _ in _layers(statement))
    return f"disclosed: the model file matches the final commitments ({names}) of the last segment"
