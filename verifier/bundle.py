"""The proof bundle: one file per proof (DESIGN section 7), and ``verify_bundle``.

Layout (integers little-endian):

    magic        8 bytes  b"ZKTRAIN\\0"
    version      u16      FORMAT_VERSION
    curve        u8       1 = BLS12-381 G1, compressed points
    hash         u8       1 = SHAKE256 transcript
    mode         u8       0 = non-ZK ("clear", ``verifier.training``); 1 = zero-knowledge
                          (``verifier.zk_training``); both modes share layout up to the body
    kind         u8       1 = proof of training
    range        u8       1 = 16-bit limbs with logUp-GKR (``circuits/limbs.py``, the default);
                          2 = bit decomposition (``circuits/bits.py``)
    recipe       u32 length + canonical recipe JSON (integers only)
    public       the Hyrax row commitments of the public tensors (data bits, final weights
                 and biases), in ``TrainingStatement.public_tensors()`` order; their row
                 counts follow from the recipe, never from the bytes
    proof        u64 length + the proof body (``verifier.training``)

Nothing may follow. Every length is bounded before anything is allocated; every failure
becomes a rejection with a reason, never an exception escaping ``verify_bundle``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from circuits.mlp import MlpCircuit
from circuits.recipe import MAX_CANONICAL_BYTES, Recipe, RecipeError
from circuits.semantics import seeded_parameters

from .encoding import Reader
from .errors import VerifyError
from .hyrax import HyraxCommitment, HyraxLayout
from .training import TrainingStatement, verify_training
from .zk_training import verify_training_zk

MAGIC = b"ZKTRAIN\x00"
FORMAT_VERSION = 2
CURVE_BLS12_381 = 1
HASH_SHAKE256 = 1
MODE_CLEAR, MODE_ZK = 0, 1
KIND_TRAINING = 1
RANGE_IDS = {"limbs": 1, "bits": 2}
MAX_PROOF_BYTES = 1 << 32


@dataclass
class Report:
    """The outcome of a verification, for humans (``zktrain verify``) and pipelines (--json)."""

    accepted: bool
    reason: str
    recipe_name: str | None = None
    recipe_digest: str | None = None
    mode: str | None = None
    range_check: str | None = None
    steps: int | None = None
    widths: list[int] | None = None
    bundle_bytes: int = 0
    proof_bytes: int = 0
    seconds: float = 0.0
    public_commitments: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def statement_for(recipe: Recipe, range_check: str = "limbs") -> TrainingStatement:
    """The public statement a recipe and a range gadget determine: circuit and seeded W_0, b_0."""
    weights, biases = seeded_parameters(recipe)
    circuit = MlpCircuit.from_recipe(recipe, range_check)
    return TrainingStatement(circuit, recipe.to_canonical_json(), tuple(weights), tuple(biases))


def encode_bundle(
    recipe: Recipe, public: dict[str, HyraxCommitment], proof: bytes, zk: bool = False, range_check: str = "limbs"
) -> bytes:
    statement = statement_for(recipe, range_check)
    raw = recipe.to_canonical_json()
    parts = [
        MAGIC,
        FORMAT_VERSION.to_bytes(2, "little"),
        bytes([CURVE_BLS12_381, HASH_SHAKE256, MODE_ZK if zk else MODE_CLEAR, KIND_TRAINING, RANGE_IDS[range_check]]),
        len(raw).to_bytes(4, "little"),
        raw,
    ]
    parts += [public[name].to_bytes() for name in statement.public_tensors()]
    parts += [len(proof).to_bytes(8, "little"), proof]
    return b"".join(parts)


@dataclass
class ParsedBundle:
    recipe: Recipe
    statement: TrainingStatement
    public: dict[str, HyraxCommitment]
    proof: bytes
    zk: bool


def parse_bundle(data: bytes) -> ParsedBundle:
    """Parse and structurally check a bundle; raises VerifyError (with a reason) on anything off."""
    reader = Reader(data, "bundle")
    reader.expect(len(MAGIC) + 7)
    if reader.take(len(MAGIC)) != MAGIC:
        raise VerifyError("not a zktrain proof bundle (bad magic)")
    version = int.from_bytes(reader.take(2), "little")
    if version != FORMAT_VERSION:
        raise VerifyError(f"unsupported bundle format version {version} (this verifier reads {FORMAT_VERSION})")
    curve, hash_id, mode, kind, range_id = reader.take(5)
    if curve != CURVE_BLS12_381 or hash_id != HASH_SHAKE256:
        raise VerifyError(f"unsupported curve/hash ids {curve}/{hash_id}")
    if mode not in (MODE_CLEAR, MODE_ZK):
        raise VerifyError(f"unknown proof mode {mode}")
    if kind != KIND_TRAINING:
        raise VerifyError(f"unknown proof kind {kind}")
    range_check = next((name for name, i in RANGE_IDS.items() if i == range_id), None)
    if range_check is None:
        raise VerifyError(f"unknown range-check gadget {range_id}")
    length = int.from_bytes(reader.take(4), "little")
    if length > MAX_CANONICAL_BYTES:
        raise VerifyError(f"recipe of {length} bytes exceeds the limit of {MAX_CANONICAL_BYTES}")
    try:
        recipe = Recipe.from_canonical_json(reader.take(length))
        statement = statement_for(recipe, range_check)
    except (RecipeError, ValueError) as err:
        raise VerifyError(f"recipe rejected: {err}") from None
    public = {}
    for name in statement.public_tensors():
        rows = HyraxLayout.square(statement.tensor_vars(name)).num_rows
        public[name] = HyraxCommitment(tuple(reader.points(rows)))
    proof_length = int.from_bytes(reader.take(8), "little")
    if proof_length != reader.remaining or proof_length > MAX_PROOF_BYTES:
        raise VerifyError(
            f"proof body declares {proof_length} bytes but {reader.remaining} follow (truncated or trailing bytes)"
        )
    return ParsedBundle(recipe, statement, public, reader.take(proof_length), mode == MODE_ZK)


def verify_bundle(data: bytes, curve: str = "blst") -> Report:
    """The embeddable API: ACCEPT or REJECT with a reason; never raises on any input."""
    start = time.perf_counter()
    report = Report(False, "", bundle_bytes=len(data) if isinstance(data, (bytes, bytearray)) else 0)
    try:
        parsed = parse_bundle(data)
        recipe = parsed.recipe
        report.recipe_name, report.recipe_digest = recipe.name, recipe.digest().hex()
        report.mode = "zk" if parsed.zk else "clear"
        report.range_check = parsed.statement.circuit.range_check
        report.steps, report.widths = recipe.train.steps, list(recipe.model.widths)
        report.proof_bytes = len(parsed.proof)
        report.public_commitments = {
            name: com.to_bytes()[:8].hex() + "..." for name, com in parsed.public.items()
        }
        verify = verify_training_zk if parsed.zk else verify_training
        verify(parsed.statement, parsed.public, parsed.proof, curve)
        report.accepted, report.reason = True, "the proof of training verifies"
    except VerifyError as err:
        report.reason = str(err)
    except Exception as err:  # malformed input must never crash the caller (DESIGN section 7)
        report.reason = f"malformed input ({type(err).__name__}: {err})"
    report.seconds = time.perf_counter() - start
    return report
