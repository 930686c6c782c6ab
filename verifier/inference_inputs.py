"""The inputs of a proof of inference as artifacts: the inputs file, and for committed inputs
the opening that lets them be disclosed later and checked against the bundle's commitment
(issue 13, item 3: "inputs public or committed").

Inputs file: an ``.npz`` with an array ``X`` of N rows of d_0 raw features (numbers), encoded
as training encodes them (``round_half_up(x 2^R)``, ``circuits.data.encode_inputs``), every
entry in the recipe's input width (``read_inputs``). The prover proves on it
(``zktrain prove-inference --inputs``); an auditor hands one to the verifier
(``zktrain verify I --training B --inputs X.npz``) to check that a bundle's inputs are these.

Committed inputs. The inference bundle then holds the row commitments of X.s, the inputs' range
slots laid out [N', d_0', slots] (``circuits.inference``), in place of the values; the proof
binds the logits to the values behind them and, in the zero-knowledge mode, hides them. The
prover keeps the opening, ``prove-inference --committed-inputs`` writing it beside the bundle
(``NAME.inputs-opening.npz``, readable by its owner only: with the inputs it opens the
commitment, so whoever holds it can test a guess of the inputs). Its arrays, little-endian,
none pickled:

    version      int64  ()           OPENING_VERSION
    commitment   uint8  (32,)        SHA-256 of X.s's row commitments as the bundle stores them
                                     (48 bytes each): the commitment this file opens
    X.blinds     uint8  (rows, 32)   the blinding factor of each Hyrax row of X.s, a canonical
                                     field element in 32 bytes little-endian (as a model
                                     file's ``W{l}.blinds``, ``verifier.model``)

Disclosing the inputs is handing over both files (``--inputs X.npz --inputs-opening FILE``):
the verifier encodes the inputs file, decomposes it into X.s's slots with zero padding (the
padding the proof zero-checks) and checks that they and the blinds open the commitment by one
random linear combination of its rows (``verifier.disclosure.check_opening``, the model file's
check: error 1/r). ``bind_inputs`` says in words what the accepted proof binds the inputs to:
public values, a commitment not disclosed, or a commitment disclosed and checked.

This module imports nothing from ``prover`` or ``zktrain``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from circuits.data import encode_inputs

from .disclosure import UINT8, NpzArchive, blinds_array, check_opening, read_blinds
from .encoding import read_artifact
from .errors import VerifyError
from .hyrax import HyraxCommitment, HyraxLayout

if TYPE_CHECKING:
    from circuits.recipe import Recipe

    from .inference import InferenceStatement

OPENING_VERSION = 1
_INT64 = np.dtype("<i8")

#: The inputs' binding in a report (``InferenceReport.inputs``).
PUBLIC, COMMITTED, DISCLOSED = "public", "committed", "disclosed"


def read_inputs(data: bytes, recipe: "Recipe", what: str = "inputs") -> np.ndarray:
    """The inputs of an .npz file's bytes: array ``X`` of N >= 1 rows of d_0 raw features,
    encoded at 2^R (int64 [N, d_0]) and in the recipe's input width; VerifyError naming the
    file and the array otherwise."""
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive")
        arrays = {name: archive[name] for name in archive.files if name == "X"}
        files = sorted(archive.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise VerifyError(f"{what}: not a readable .npz file ({type(err).__name__}: {err})") from None
    if "X" not in arrays:
        raise VerifyError(f"{what}: no array 'X' (found {files})")
    x = arrays["X"]
    d = recipe.data
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != d.features or x.dtype.kind not in "iuf":
        raise VerifyError(f"{what}: X has shape {x.shape} and dtype {x.dtype}; the model takes rows of "
                          f"{d.features} numbers (shape (N, {d.features}))")
    try:
        encoded = encode_inputs(x, recipe.quant.frac_bits)
    except ValueError as err:
        raise VerifyError(f"{what}: X: {err}") from None
    width = recipe.declared_widths()["input"]
    bad = np.argwhere((encoded < width.lo) | (encoded > width.hi))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise VerifyError(f"{what}: X{list(index)} = {x[index]} encodes to {encoded[index]} at "
                          f"2^{recipe.quant.frac_bits}, outside the recipe's {width.bits}-bit "
                          f"{'signed' if width.signed else 'unsigned'} input width")
    return encoded


# --- committed inputs: the slots, the commitment's name, the opening -------------------------


def input_layout(statement: "InferenceStatement") -> HyraxLayout:
    """The Hyrax layout of the committed inputs' X.s."""
    return HyraxLayout.square(statement.tensor_vars(statement.circuit.input_tensor()))


def input_slots(statement: "InferenceStatement", encoded: np.ndarray) -> np.ndarray:
    """Encoded inputs [N, d_0] as X.s lays them out: zero-padded to [N', d_0'], decomposed into
    the recipe's input slots (int64 [N', d_0', slots'])."""
    c = statement.circuit
    padded = np.zeros((1 << c.batch_vars, 1 << c.width_vars(0)), dtype=np.int64)
    padded[: encoded.shape[0], : encoded.shape[1]] = encoded
    return c.x_slots().decompose(padded, "inputs").astype(np.int64)


def commitment_digest(commitment: HyraxCommitment) -> bytes:
    """The name of a commitment to the inputs: SHA-256 of its row commitments' bytes."""
    return hashlib.sha256(commitment.to_bytes()).digest()


@dataclass(frozen=True)
class InputsOpening:
    """The opening of the committed inputs' X.s: the digest of the commitment it opens and the
    blind of each of its rows."""

    commitment: bytes
    blinds: list[int]

    def to_bytes(self) -> bytes:
        """The ``.npz`` file (module docstring; the writer makes it atomic and owner-only)."""
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **{
            "version": np.array(OPENING_VERSION, dtype=_INT64),
            "commitment": np.frombuffer(self.commitment, dtype=UINT8).copy(),
            "X.blinds": blinds_array(self.blinds),
        })
        return buffer.getvalue()


def parse_opening(data: bytes, statement: "InferenceStatement", what: str = "inputs opening") -> InputsOpening:
    """An opening file for the committed inputs of ``statement``: its version, the digest of
    the very commitment the statement holds, and canonical blinds, one per row."""
    rows = input_layout(statement).num_rows
    expected = {"version": (_INT64, ()), "commitment": (UINT8, (32,)), "X.blinds": (UINT8, (rows, 32))}
    archive = NpzArchive(data, what, expected, "an inputs opening", "the bundle's")
    version = int(archive.array("version"))
    if version != OPENING_VERSION:
        raise VerifyError(f"{what}: inputs opening version {version}, this verifier reads {OPENING_VERSION}")
    digest = archive.array("commitment").tobytes()
    actual = commitment_digest(statement.input_commitment)
    if digest != actual:
        raise VerifyError(f"{what}: opens the commitment of SHA-256 {digest.hex()[:16]}..., not the bundle's "
                          f"{actual.hex()[:16]}... (the opening of another proof's inputs)")
    archive.refuse_unexpected()
    return InputsOpening(digest, read_blinds(archive.array("X.blinds"), "X.blinds", what))


# --- what an accepted proof binds the inputs to ------------------------------------------------


def _disclosed(inputs, statement: "InferenceStatement", recipe: "Recipe") -> tuple[np.ndarray, str]:
    """The inputs file an auditor gave, encoded: N rows, as the bundle proves."""
    data, what = read_artifact(inputs, "inputs")
    x = read_inputs(data, recipe, what)
    if x.shape[0] != statement.circuit.rows:
        raise VerifyError(f"{what}: X has {x.shape[0]} rows, the bundle proves {statement.circuit.rows} inputs")
    return x, what


def bind_inputs(statement: "InferenceStatement", recipe: "Recipe", inputs=None, opening=None,
                curve: str = "blst") -> tuple[str, str]:
    """Check what the auditor holds of the inputs of a verified proof of inference (``inputs``:
    an inputs file, ``opening``: an opening file, each bytes or a path, or None), and say what
    they are bound to: (``PUBLIC``, ``COMMITTED`` or ``DISCLOSED``, in words). Public inputs
    given a file must be that file's; committed inputs are disclosed by a file and its opening
    together, which must open the commitment. An artifact the binding has no use for is
    refused, so an auditor never believes a check that did not happen. Raises VerifyError."""
    c, frac = statement.circuit, recipe.quant.frac_bits
    if not c.committed_inputs:
        if opening is not None:
            raise VerifyError("an inputs opening was given, but the bundle's inputs are public: there is no "
                              "commitment to open")
        if inputs is None:
            return PUBLIC, f"public: the {c.rows} rows in the bundle, at 2^{frac}"
        x, what = _disclosed(inputs, statement, recipe)
        differs = np.argwhere(x != statement.inputs)
        if len(differs):
            index = tuple(int(i) for i in differs[0])
            raise VerifyError(f"{what}: X{list(index)} encodes to {x[index]}, the bundle's input is "
                              f"{statement.inputs[index]}")
        return PUBLIC, f"public: the {c.rows} rows in the bundle, at 2^{frac}, which {what} encodes to (checked)"
    tensor = c.input_tensor()
    if (inputs is None) != (opening is None):
        raise VerifyError("committed inputs are disclosed by the inputs file and its opening together "
                          "(--inputs with --inputs-opening)")
    if inputs is None:
        return COMMITTED, (f"committed, not disclosed: the logits are those of the {c.rows} inputs behind the "
                           f"commitment {tensor} in the bundle, which the proof does not reveal")
    x, what = _disclosed(inputs, statement, recipe)
    data, opening_what = read_artifact(opening, "inputs opening")
    opened = parse_opening(data, statement, opening_what)
    layout = input_layout(statement)
    matrix = input_slots(statement, x).reshape(layout.num_rows, layout.num_cols)
    check_opening("X", tensor, statement.input_commitment, layout, matrix, opened.blinds, curve, what)
    return DISCLOSED, (f"committed and disclosed: {what}, with {opening_what}, opens the commitment {tensor} in "
                       f"the bundle (checked): the logits are those of these {c.rows} inputs")
