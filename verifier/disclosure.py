"""A disclosed opening of a Hyrax commitment, checked without an MSM over the whole matrix
(DESIGN section 10: "a disclosed model is checked against the row commitments by one random
linear combination"). Shared by the two artifacts a prover may disclose later: the trained
model (``verifier.model``: the values and blinds of W{l}.T, b{l}.T) and the committed inputs of
a proof of inference (``verifier.inference_inputs``: the slots of X.s and their blinds).

The check. A Hyrax commitment to a tensor (padded to 2^n entries with zeros, laid out as the
``HyraxLayout.square`` matrix M of ``verifier/hyrax.py``) is one Pedersen commitment per row,
C_i = <M_i, G> + r_i h. Instead of one MSM per row, the verifier draws rho_i from a transcript
that has absorbed the commitments, the disclosed values and the blinds, and tests

    sum_i rho_i C_i = <sum_i rho_i M_i, G> + (sum_i rho_i r_i) h

in one MSM of rows + cols + 1 points. If some row fails, D_i = C_i - <M_i, G> - r_i h != 0 and
sum_i rho_i D_i = 0 holds for at most one value of rho_i given the others (G1 has prime order
r): probability 1/r. The rho_i must come after the opening: an opening chosen knowing the rho_i
could move value between rows (any change with sum_i rho_i dM_i = 0 per column passes, and
small ones exist by lattice reduction once a tensor has a few rows) or shift blinds freely
(any dr with sum_i rho_i dr_i = 0). Entries are signed integers embedded as v mod r
(DESIGN section 3). Splitting the combination over the generators needs no discrete logarithm
between G_0.., h to be known (RFC 9380 generators, ``verifier/hash_to_curve.py``).

The files that carry an opening are numpy ``.npz`` archives, read defensively
(``NpzArchive``: ``allow_pickle=False``; each array's header, dtype and shape, checked against
what the statement expects before its data is read; every failure a ``VerifyError`` naming the
file and the array). Blinds are stored as ``uint8 [rows, 32]``: each row's blinding factor, a
canonical field element in 32 bytes little-endian (DESIGN section 9).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

from . import field
from .errors import VerifyError
from .hash_to_curve import pedersen_generators
from .hyrax import HyraxCommitment, HyraxLayout
from .transcript import Transcript

DOMAIN = b"zktrain/disclosure"
UINT8 = np.dtype("|u1")


def blinds_array(blinds: list[int]) -> np.ndarray:
    """Row blinds as a file stores them: uint8 [rows, 32], each little-endian."""
    encoded = b"".join(field.to_bytes(r) for r in blinds)
    return np.frombuffer(encoded, dtype=UINT8).reshape(len(blinds), field.BYTES)


def read_blinds(array: np.ndarray, name: str, what: str) -> list[int]:
    """The blinds of a ``blinds_array`` (its dtype and shape already checked), each canonical."""
    rows = [int.from_bytes(row.tobytes(), "little") for row in array]
    if any(r >= field.MODULUS for r in rows):
        raise VerifyError(f"{what}: {name} holds a non-canonical field element (>= r)")
    return rows


class NpzArchive:
    """An ``.npz`` archive, each array read only after its header matches what is expected
    (``expected``: name -> (dtype, shape)). ``kind`` names the file in rejections ("a model
    file"), ``source`` what fixes the shapes ("the recipe's")."""

    def __init__(self, data: bytes, what: str, expected: dict[str, tuple[np.dtype, tuple[int, ...]]],
                 kind: str, source: str):
        self.what, self.expected, self.source = what, expected, source
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as err:  # a truncated zip, garbage, a pickle: np.load's many refusals
            raise VerifyError(f"{what}: not {kind} (.npz archive): {type(err).__name__}: {err}") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise VerifyError(f"{what}: a single .npy array, not {kind} (.npz archive)")
        self.npz = npz

    def refuse_unexpected(self) -> None:
        unknown = sorted(set(self.npz.files) - set(self.expected))
        if unknown:
            raise VerifyError(f"{self.what}: unexpected array {unknown[0]!r}")

    def _header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        with self.npz.zip.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
        return shape, dtype

    def array(self, name: str) -> np.ndarray:
        dtype, shape = self.expected[name]
        if name not in self.npz.files:
            raise VerifyError(f"{self.what}: missing array {name!r}")
        try:
            found_shape, found_dtype = self._header(name)
        except (ValueError, OSError, zipfile.BadZipFile, KeyError) as err:
            raise VerifyError(f"{self.what}: array {name!r} is unreadable ({err})") from None
        if found_dtype != dtype:
            raise VerifyError(f"{self.what}: array {name!r} has dtype {found_dtype}, expected {dtype}")
        if found_shape != shape:
            raise VerifyError(f"{self.what}: array {name!r} has shape {found_shape}, expected {shape} ({self.source})")
        try:
            return self.npz[name]
        except Exception as err:  # data shorter than its header declares, a bad CRC
            raise VerifyError(f"{self.what}: array {name!r} is unreadable ({type(err).__name__}: {err})") from None


def padded_matrix(values: np.ndarray, padded: tuple[int, ...], layout: HyraxLayout) -> np.ndarray:
    """``values`` zero-padded to the shape ``padded`` (2^n entries), as the layout's matrix."""
    out = np.zeros(padded, dtype=np.int64)
    out[tuple(slice(0, n) for n in values.shape)] = values
    return out.reshape(layout.num_rows, layout.num_cols)


def combination_weights(tensor: str, commitment: HyraxCommitment, matrix: np.ndarray, blinds: list[int]) -> list[int]:
    """rho_0.., one per row, drawn after the commitment's rows, the disclosed (padded) matrix
    and its blinds are absorbed (module docstring: they must follow the opening)."""
    transcript = Transcript(DOMAIN)
    transcript.absorb_points(f"{tensor}:rows".encode(), commitment.rows)
    transcript.absorb_bytes(f"{tensor}:values".encode(), np.ascontiguousarray(matrix, dtype="<i8").tobytes())
    transcript.absorb_scalars(f"{tensor}:blinds".encode(), blinds)
    return transcript.challenge_scalars(b"rho", len(commitment.rows))


def check_opening(
    name: str, tensor: str, commitment: HyraxCommitment, layout: HyraxLayout, matrix: np.ndarray,
    blinds: list[int], curve: str = "blst", what: str = "model",
) -> None:
    """sum_i rho_i C_i = <sum_i rho_i M_i, G> + (sum_i rho_i r_i) h for the padded matrix M
    (layout.num_rows x layout.num_cols), in one MSM; a VerifyError naming ``what``, the
    disclosed ``name`` and the committed ``tensor`` otherwise."""
    gens = pedersen_generators(curve)
    rows = commitment.decode(gens, layout)
    rho = combination_weights(tensor, commitment, matrix, blinds)
    combined = np.array(rho, dtype=object) @ matrix.astype(object)  # sum_i rho_i M_i, exact integers
    blind = field.inner_product(rho, blinds)
    points = rows + gens.vector(layout.num_cols) + [gens.h]
    scalars = rho + [-int(t) % field.MODULUS for t in combined] + [-blind % field.MODULUS]
    if gens.curve.msm(points, scalars) != gens.curve.identity():
        raise VerifyError(f"{what}: {name} does not match the bundle's commitment {tensor}")
