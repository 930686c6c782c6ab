"""Hyrax polynomial commitments: verification of commitments and openings (DESIGN section 3).

Hyrax's commitment to a multilinear polynomial (Wahby et al. S&P 2018; Spartan's
``PolyCommitment``). A tensor of 2^n entries is a 2^(n-b) x 2^b matrix M, entry
index = row * 2^b + col, so the columns are the low b variables (DESIGN section 9). Row i is
committed as C_i = <M_i, G> + r_i h with its own blinding r_i (hiding). For a point
x = (x_col, x_row), eq(x, index) = eq(x_col, col) eq(x_row, row), hence

    f~(x) = L^T M R,   L = eq-table(x_row) (length 2^(n-b)),  R = eq-table(x_col) (2^b),

and the verifier can form C_T = sum_i L_i C_i = <t, G> + (sum_i L_i r_i) h, a commitment to
the combined row t = L^T M, by itself. Then f~(x) = <t, R>:

* non-ZK mode: the prover sends t and the combined blinding in the clear; the verifier checks
  C_T against them and computes <t, R> (2^b scalars);
* ZK mode: the claim is a value commitment C_v = v g + r_v h, and a proof of dot product
  (``nizk.dot_product``, 2^b + 2 scalars, or ``nizk.ipa``, 2b + 1 points) shows that C_T and
  C_v satisfy v = <t, R>: nothing about t is revealed.

Claims on one tensor at several points are first reduced to one point (the claims ledger,
``verifier.gadgets.multipoint_reduction``), so each tensor is opened once; in the clear mode
the group equations of all openings are checked together (``OpeningBatch``), in the ZK mode
with every other Sigma-protocol equation of the proof (``verifier.nizk.batch``). Row
commitments are absorbed into the transcript by whoever publishes them (DESIGN section 9,
Fiat-Shamir order); an opening absorbs its point, its claim and its messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from . import field
from .curve import Point
from .encoding import Reader, encode_points, encode_scalars
from .errors import VerifyError
from .hash_to_curve import MAX_GENERATORS, PedersenGenerators
from .nizk import dot_product, ipa
from .nizk.batch import Equations
from .polynomial import eq_table
from .transcript import Transcript

MAX_VARS = 40
#: A row of 2^24 columns at most: the generators there are (``MAX_GENERATORS``).
MAX_COL_VARS = MAX_GENERATORS.bit_length() - 1
DOMAIN_OPEN = b"hyrax/open"
DOMAIN_OPEN_ZK = b"hyrax/open-zk"

#: The proof of dot product closing a ZK opening: square-root size or log size.
ZK_ARGUMENTS = ("sqrt", "log")


@dataclass(frozen=True)
class HyraxLayout:
    """A 2^num_vars tensor as a matrix with 2^col_vars columns (the low variables)."""

    num_vars: int
    col_vars: int

    def __post_init__(self) -> None:
        if not 0 <= self.num_vars <= MAX_VARS:
            raise ValueError(f"num_vars must lie in [0, {MAX_VARS}], got {self.num_vars}")
        if not 0 <= self.col_vars <= min(self.num_vars, MAX_COL_VARS):
            raise ValueError(f"col_vars must lie in [0, min(num_vars, {MAX_COL_VARS})], got {self.col_vars}")

    @classmethod
    def square(cls, num_vars: int) -> "HyraxLayout":
        """The default: ceil(n / 2) column variables (rows at least as long as columns)."""
        return cls(num_vars, (num_vars + 1) // 2)

    @property
    def num_cols(self) -> int:
        return 1 << self.col_vars

    @property
    def num_rows(self) -> int:
        return 1 << (self.num_vars - self.col_vars)

    def split(self, point: Sequence[int]) -> tuple[list[int], list[int]]:
        """(x_col, x_row): the low col_vars coordinates and the rest."""
        if len(point) != self.num_vars:
            raise VerifyError(f"hyrax: point has {len(point)} coordinates, expected {self.num_vars}")
        return list(point[: self.col_vars]), list(point[self.col_vars :])


@dataclass(frozen=True)
class HyraxCommitment:
    """The row commitments C_0..C_{rows-1}, in 48-byte form."""

    rows: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        return encode_points(self.rows)

    @classmethod
    def from_bytes(cls, data: bytes, layout: HyraxLayout) -> "HyraxCommitment":
        reader = Reader(data, "hyrax commitment")
        reader.expect(layout.num_rows * 48)
        commitment = cls(tuple(reader.points(layout.num_rows)))
        reader.finish()
        return commitment

    def decode(self, gens: PedersenGenerators, layout: HyraxLayout) -> list[Point]:
        if len(self.rows) != layout.num_rows:
            raise VerifyError(f"hyrax: {len(self.rows)} row commitments, expected {layout.num_rows}")
        return [gens.curve.decode(row) for row in self.rows]


@dataclass(frozen=True)
class HyraxOpening:
    """Non-ZK opening: the combined row t = L^T M and its blinding sum_i L_i r_i."""

    row: tuple[int, ...]
    blind: int

    @staticmethod
    def size(layout: HyraxLayout) -> int:
        return (layout.num_cols + 1) * 32

    def to_bytes(self) -> bytes:
        return encode_scalars([*self.row, self.blind])

    @classmethod
    def from_bytes(cls, data: bytes, layout: HyraxLayout) -> "HyraxOpening":
        reader = Reader(data, "hyrax opening")
        reader.expect(cls.size(layout))
        opening = cls(tuple(reader.scalars(layout.num_cols)), reader.scalar())
        reader.finish()
        return opening


def combined_row_commitment(
    gens: PedersenGenerators, rows: Sequence[Point], layout: HyraxLayout, point: Sequence[int]
) -> Point:
    """C_T = sum_i eq(x_row, i) C_i."""
    _, x_row = layout.split(point)
    return gens.curve.msm(rows, eq_table(x_row))


def _absorb_and_check_value(layout, point, value, proof: HyraxOpening, transcript: Transcript) -> list[int]:
    """The scalar half of a non-ZK opening: absorb it, check <t, eq(x_col)> = value."""
    point, value = [x % field.MODULUS for x in point], value % field.MODULUS
    x_col, _ = layout.split(point)
    if len(proof.row) != layout.num_cols:
        raise VerifyError(f"hyrax opening: row of {len(proof.row)} entries, expected {layout.num_cols}")
    transcript.domain_separate(DOMAIN_OPEN)
    transcript.absorb_scalars(b"point", point)
    transcript.absorb_scalar(b"value", value)
    transcript.absorb_scalars(b"row", [*proof.row, proof.blind])
    if field.inner_product(proof.row, eq_table(x_col)) != value:
        raise VerifyError("hyrax opening: <t, R> differs from the claimed value")
    return point


def verify_opening(
    gens: PedersenGenerators,
    rows: Sequence[Point],
    layout: HyraxLayout,
    point: Sequence[int],
    value: int,
    proof: HyraxOpening,
    transcript: Transcript,
) -> None:
    """Non-ZK: check that the committed tensor's MLE takes ``value`` at ``point``."""
    point = _absorb_and_check_value(layout, point, value, proof, transcript)
    expected = combined_row_commitment(gens, rows, layout, point)
    if expected != gens.curve.msm(gens.vector(layout.num_cols) + [gens.h], [*proof.row, proof.blind]):
        raise VerifyError("hyrax opening: combined row does not match the row commitments")


class OpeningBatch:
    """Non-ZK openings of several tensors whose group equations are checked in one MSM.

    Each ``add`` does what ``verify_opening`` does except the group equation
    sum_i eq(x_row, i) C_i = <t, G> + b h, which it records. ``check`` draws weights rho_k
    from the transcript, after every opening is absorbed, and tests
    sum_k rho_k (sum_i eq_k,i C_k,i - <t_k, G> - b_k h) = 0: the generators are one hashed
    sequence, so the t_k combine entrywise over a common prefix. If any equation fails, the
    combination vanishes with probability at most 1/r (its rho_k are unpredictable). One MSM of
    sum_k rows_k + max_k cols_k + 1 points replaces two per tensor.
    """

    def __init__(self, gens: PedersenGenerators):
        self.gens = gens
        self._pending: list[tuple[Sequence[Point], HyraxLayout, list[int], HyraxOpening]] = []

    def add(self, rows, layout, point, value, proof: HyraxOpening, transcript: Transcript) -> None:
        self._pending.append((rows, layout, _absorb_and_check_value(layout, point, value, proof, transcript), proof))

    def check(self, transcript: Transcript) -> None:
        if not self._pending:
            return
        rhos = transcript.challenge_scalars(b"hyrax-opening-batch", len(self._pending))
        points: list[Point] = []
        scalars: list[int] = []
        row_sum = [0] * max(layout.num_cols for _, layout, _, _ in self._pending)
        blind_sum = 0
        for rho, (rows, layout, point, proof) in zip(rhos, self._pending):
            _, x_row = layout.split(point)
            points += rows
            scalars += [rho * e % field.MODULUS for e in eq_table(x_row)]
            for j, t in enumerate(proof.row):
                row_sum[j] += rho * t
            blind_sum += rho * proof.blind
        points += self.gens.vector(len(row_sum)) + [self.gens.h]
        scalars += [-t % field.MODULUS for t in row_sum] + [-blind_sum % field.MODULUS]
        if self.gens.curve.msm(points, scalars) != self.gens.curve.identity():
            raise VerifyError("hyrax opening: a combined row does not match its row commitments")
        self._pending.clear()


def parse_zk_opening(data: bytes, layout: HyraxLayout, argument: str):
    """The dot-product proof closing a ZK opening, for the public choice of argument."""
    if argument == "sqrt":
        return dot_product.DotProductProof.from_bytes(data, layout.num_cols)
    if argument == "log":
        return ipa.InnerProductProof.from_bytes(data, layout.num_cols)
    raise ValueError(f"argument must be one of {ZK_ARGUMENTS}, got {argument!r}")


def verify_zk_opening(
    gens: PedersenGenerators,
    rows: Sequence[Point],
    layout: HyraxLayout,
    point: Sequence[int],
    value_commitment: Point,
    proof: "dot_product.DotProductProof | ipa.InnerProductProof",
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """ZK: check that ``value_commitment`` commits to the committed tensor's MLE at ``point``;
    the proof's group equations go to ``equations`` (checked at once if None)."""
    point = [x % field.MODULUS for x in point]
    x_col, _ = layout.split(point)
    transcript.domain_separate(DOMAIN_OPEN_ZK)
    transcript.absorb_scalars(b"point", point)
    transcript.absorb_point(b"value", value_commitment.to_bytes())
    c_t = combined_row_commitment(gens, rows, layout, point)
    if isinstance(proof, dot_product.DotProductProof):
        dot_product.verify(gens, c_t, value_commitment, eq_table(x_col), proof, transcript, equations)
    elif isinstance(proof, ipa.InnerProductProof):
        ipa.verify(gens, c_t, value_commitment, eq_table(x_col), proof, transcript, equations)
    else:
        raise VerifyError(f"hyrax: unknown ZK opening proof {type(proof).__name__}")
