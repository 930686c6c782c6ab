"""The training data as a proof binds it (issue 13; DESIGN section 10, "Artifacts are part of
the statement").

The walk (``verifier.training``) meets the data twice: claims on the stacked inputs IN1 (from
the first layer's forward matmul and weight updates) and, at the output gradient
G_Z,L = Z'_L - Y, the labels Y at a point. A data binding answers both; it is an operation of
its own, composed into the walk, not a branch through it (DESIGN section 10):

* :class:`PrivateData` (``data.binding: private``): each segment commits its own batch stream
  (the range slots X.s, Y.s); the claims reduce to those slots. The data is bound to nothing
  outside the proof: the report says so.
* :class:`PublicData` (``public``): the verifier holds the data set (its digest is in the
  recipe), derives the batch stream itself (``circuits.data.batch_order``) and evaluates its
  multilinear extension exactly (``mle_evaluate_int64``); nothing is committed.
* :class:`CommittedData` (``committed``): a data owner committed once to the rows in storage
  order (``DatasetCommitment``: the range slots DX.s, DY.s; its digest is in the recipe, its
  rows in the bundle). The batch stream is a public selection of rows, so each claim on it
  becomes, by one selection sumcheck (``verifier.gadgets.selection_reduction``, phase
  "phase-data"), a claim on the data set, reduced to its slots. Every segment refers to the
  one commitment; segment 0 range-checks it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from circuits.data import DatasetEncoding, dataset_digest, encode_inputs, encode_labels
from circuits.recipe import check_json_depth

from .claims import Claim
from .curve import POINT_BYTES
from .encoding import Reader
from .errors import VerifyError
from .gadgets import selection_reduction
from .hyrax import HyraxCommitment, HyraxLayout
from .phase import Reduction
from .polynomial import mle_evaluate_int64
from .values import Value

if TYPE_CHECKING:
    from circuits.recipe import Recipe

    from .training import TrainingWalk


class PrivateData:
    """The prover's own commitment to each segment's batch stream (X.s, Y.s)."""

    kind = "private"

    def inputs(self, walk: "TrainingWalk", claims: Sequence[Claim]) -> None:
        c = walk.c
        for claim in claims:
            walk.slice_value(c.ranged("X"), c.x_slots(), claim.point, claim.value)

    def labels(self, walk: "TrainingWalk", point: Sequence[int]) -> Value:
        return walk.slice_value(walk.c.ranged("Y"), walk.c.y_slots(), point)

    def selection(self, walk: "TrainingWalk") -> list[Reduction]:
        return []

    def selected(self, walk: "TrainingWalk") -> None:
        pass


@dataclass(eq=False)
class PublicData:
    """A data set the verifier holds: the segment's batch stream, encoded and padded as the
    circuit lays it out, inputs [T', B, d_0'] and labels [T', B, d_L'] (int64, zero on the
    padded steps and features)."""

    x: np.ndarray
    y: np.ndarray
    kind = "public"

    def inputs(self, walk: "TrainingWalk", claims: Sequence[Claim]) -> None:
        for claim in claims:
            walk.require_equal(claim.value, mle_evaluate_int64(self.x, claim.point),
                               "input claim is not the public data's")

    def labels(self, walk: "TrainingWalk", point: Sequence[int]) -> Value:
        return mle_evaluate_int64(self.y, point)

    def selection(self, walk: "TrainingWalk") -> list[Reduction]:
        return []

    def selected(self, walk: "TrainingWalk") -> None:
        pass


@dataclass(eq=False)
class CommittedData:
    """A data owner's commitment to the training rows; ``rows[t][b]``, for the segment's real
    steps t, is the data set row of batch entry b."""

    rows: np.ndarray
    kind = "committed"

    def inputs(self, walk: "TrainingWalk", claims: Sequence[Claim]) -> None:
        walk.ledger.extend(claims)  # claims on IN1, for the selection phase

    def labels(self, walk: "TrainingWalk", point: Sequence[int]) -> Value:
        value = walk.ch.evaluation("Y", point)  # the prover's claim on the label stream
        walk.ledger.add(Claim("Y", tuple(point), value))
        return value

    def selection(self, walk: "TrainingWalk") -> list[Reduction]:
        c = walk.c
        rows = self.rows.tolist()
        row_vars = c.dataset_encoding().layouts()[c.ranged("DX")].vars("i")
        out = []
        for stream, dataset, layer in (("IN1", "DX", 0), ("Y", "DY", c.layers)):
            for claim in walk.ledger.take(stream):
                out.append(selection_reduction(f"select-{dataset}", claim, dataset, rows, c.width_vars(layer),
                                               c.batch_vars, row_vars))
        return out

    def selected(self, walk: "TrainingWalk") -> None:
        c = walk.c
        for dataset, slots in (("DX", c.x_slots()), ("DY", c.y_slots())):
            for claim in walk.ledger.take(dataset):
                walk.slice_value(c.ranged(dataset), slots, claim.point, claim.value)


# --- a data owner's commitment ---------------------------------------------------------------

COMMITMENT_MAGIC = b"ZKDATA\x00\x00"
COMMITMENT_VERSION = 1
#: Bound on the header read before anything is allocated (it is a few hundred bytes).
MAX_HEADER_BYTES = 4096


@dataclass(frozen=True)
class DatasetCommitment:
    """A hiding commitment to a data set's encoded training rows, in storage order: the Hyrax
    row commitments of its range slots DX.s and DY.s (``DatasetEncoding.layouts``).

    File layout: magic, u16 version, u32 length + the encoding's canonical JSON, then the row
    commitments of DX.s and of DY.s (48 bytes each; their counts follow from the encoding).
    ``digest`` (SHA-256 of those bytes) is what a recipe of committed data carries."""

    encoding: DatasetEncoding
    x: HyraxCommitment
    y: HyraxCommitment

    def __post_init__(self) -> None:
        for name, com in zip(self.encoding.layouts(), (self.x, self.y)):
            expected = HyraxLayout.square(self.encoding.layouts()[name].num_vars).num_rows
            if len(com.rows) != expected:
                raise ValueError(f"data commitment: {name} has {len(com.rows)} rows, its layout {expected}")

    @staticmethod
    def row_counts(encoding: DatasetEncoding) -> list[int]:
        return [HyraxLayout.square(layout.num_vars).num_rows for layout in encoding.layouts().values()]

    def tensors(self) -> dict[str, HyraxCommitment]:
        """The public commitments by circuit name (``DX.limbs``, ``DY.limbs``)."""
        return dict(zip(self.encoding.layouts(), (self.x, self.y)))

    def to_bytes(self) -> bytes:
        header = self.encoding.encode()
        return b"".join([COMMITMENT_MAGIC, COMMITMENT_VERSION.to_bytes(2, "little"),
                         len(header).to_bytes(4, "little"), header, self.x.to_bytes(), self.y.to_bytes()])

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "data commitment") -> "DatasetCommitment":
        reader = Reader(data, what)
        if reader.take(len(COMMITMENT_MAGIC)) != COMMITMENT_MAGIC:
            raise VerifyError(f"{what}: not a zktrain data commitment (bad magic)")
        version = int.from_bytes(reader.take(2), "little")
        if version != COMMITMENT_VERSION:
            raise VerifyError(f"{what}: unsupported version {version}")
        length = int.from_bytes(reader.take(4), "little")
        if length > MAX_HEADER_BYTES:
            raise VerifyError(f"{what}: header of {length} bytes exceeds {MAX_HEADER_BYTES}")
        encoding = _parse_encoding(reader.take(length), what)
        counts = cls.row_counts(encoding)
        reader.expect(POINT_BYTES * sum(counts))
        x, y = (HyraxCommitment(tuple(reader.points(n))) for n in counts)
        reader.finish()
        return cls(encoding, x, y)

    @classmethod
    def read_rows(cls, reader: Reader, encoding: DatasetEncoding) -> "DatasetCommitment":
        """The row commitments alone, as a bundle carries them (the recipe gives the encoding)."""
        x, y = (HyraxCommitment(tuple(reader.points(n))) for n in cls.row_counts(encoding))
        return cls(encoding, x, y)


def _parse_encoding(raw: bytes, what: str) -> DatasetEncoding:
    try:
        check_json_depth(raw, 1, what)  # one flat object
    except ValueError as err:
        raise VerifyError(str(err)) from None
    try:
        fields = json.loads(raw.decode("ascii"))
        encoding = DatasetEncoding(**fields)
    except (UnicodeDecodeError, ValueError, TypeError) as err:
        raise VerifyError(f"{what}: malformed header ({err})") from None
    if encoding.encode() != raw:
        raise VerifyError(f"{what}: header not in canonical form")
    return encoding


# --- a public data set ---------------------------------------------------------------------------


def load_public_dataset(data: bytes, recipe: "Recipe", what: str = "data set") -> tuple[np.ndarray, np.ndarray]:
    """The encoded training rows (inputs [n, d_0], one-hot labels [n, d_L]) of a data set file
    for a recipe of public data: an .npz with arrays ``X`` (n x d_0 numbers) and ``y`` (n
    class ids), as ``zktrain export-data`` writes it (other arrays, such as a test split, are
    ignored). Every check names the file's array; the digest must be the recipe's."""
    d = recipe.data
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = {"X", "y"} - set(archive.files)
            if missing:
                raise VerifyError(f"{what}: no array {sorted(missing)[0]!r} (found {sorted(archive.files)})")
            x, labels = archive["X"], archive["y"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise VerifyError(f"{what}: not a readable .npz file ({err})") from None
    if x.shape != (d.rows, d.features) or x.dtype.kind not in "iuf":
        raise VerifyError(f"{what}: X has shape {x.shape} and dtype {x.dtype}, the recipe says "
                          f"{d.rows} rows of {d.features} numbers")
    if labels.shape != (d.rows,) or labels.dtype.kind not in "iu":
        raise VerifyError(f"{what}: y has shape {labels.shape} and dtype {labels.dtype}, the recipe says "
                          f"{d.rows} integer class ids")
    try:
        xe = encode_inputs(x, recipe.quant.frac_bits)
        ye = encode_labels(labels, d.classes, recipe.quant.frac_bits)
    except ValueError as err:
        raise VerifyError(f"{what}: {err}") from None
    for name, values, bits, signed in (("X", xe, d.input_bits, d.input_signed), ("y", ye, d.label_bits, False)):
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
        if values.size and (values.min() < low or values.max() >= high):
            raise VerifyError(f"{what}: {name} encoded at 2^{recipe.quant.frac_bits} does not fit the recipe's "
                              f"{bits} {'signed' if signed else 'unsigned'} bits")
    digest = dataset_digest(xe, ye)
    if digest != d.sha256:
        raise VerifyError(f"{what}: its encoded rows have SHA-256 {digest}, the recipe's data is {d.sha256}")
    return xe, ye
