"""The proof bundle: one file per proof (DESIGN section 7), and ``verify_bundle``.

Layout (integers little-endian):

    magic        8 bytes  b"ZKTRAIN\\0"
    version      u16      FORMAT_VERSION
    curve        u8       1 = BLS12-381 G1, compressed points
    hash         u8       1 = SHAKE256 transcript
    mode         u8       0 = non-ZK ("clear", ``verifier.training``); 1 = zero-knowledge
                          (``verifier.zk_training``); both modes share layout up to the body
    kind         u8       1 = proof of training; 2 = proof of inference, whose layout after
                          this header is ``verifier.inference_bundle``'s
    range        u8       1 = 16-bit limbs with logUp-GKR (``circuits/limbs.py``, the default);
                          2 = bit decomposition (``circuits/bits.py``)
    recipe       u32 length + canonical recipe JSON (integers only)
    segment      u32      steps per segment S, 1 <= S <= steps; the run is proven in
                          ceil(steps / S) segments chained by committed checkpoints
    data         for committed data only (``data.binding: committed``): the data owner's
                 commitment, the row commitments of DX.s then DY.s
                 (``verifier.data.DatasetCommitment``; their counts follow from the recipe,
                 whose ``data.sha256`` is the commitment's digest)
    then, for each segment k in order:
      public     the Hyrax row commitments of the segment's own public tensors (its data
                 slots; for segment 0 of an ``init: committed`` recipe the slots of W_0, b_0;
                 then the checkpoint W_T, b_T it ends on; segment k > 0 starts from segment
                 k - 1's checkpoint, not repeated), in ``public_tensors()`` order; their row
                 counts follow from the recipe, never from the bytes
      proof      u64 length + the proof body (``verifier.training``)

Nothing may follow. Every failure becomes a rejection with a reason, never an exception
escaping ``verify_bundle``.

Bounded work (DESIGN section 7, issue 12). Before any work the recipe sizes, the parser
checks that every byte the recipe implies is there: each segment's public commitments, its
proof-length field and the least proof body its statement admits (witness commitments and
one opening per committed tensor, ``TrainingStatement.min_proof_bytes``). The seeded W_0 is
derived only when the walk first evaluates it, and the recipe bounds its size
(``circuits.recipe.MAX_SEEDED_PARAMETERS``). Everything else the verifier does is linear in
the bytes it reads, or evaluates public tables of at most 2^20 entries (``MAX_STEPS``,
``MAX_WIDTH``) a number of times that the claims, hence the bytes, bound. SECURITY.md states
the limits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property

import numpy as np

from circuits.data import batch_order
from circuits.mlp import MlpCircuit
from circuits.recipe import MAX_CANONICAL_BYTES, Recipe, RecipeError
from circuits.semantics import seeded_parameters

from .encoding import Reader, read_artifact
from .errors import VerifyError
from .curve import POINT_BYTES
from .data import CommittedData, DatasetCommitment, PrivateData, PublicData, load_public_dataset
from .hyrax import HyraxCommitment, HyraxLayout
from .model import verify_model
from .training import TrainingStatement, verify_training
from .transcript import soundness_bits
from .zk_training import verify_training_zk

MAGIC = b"ZKTRAIN\x00"
FORMAT_VERSION = 4
CURVE_BLS12_381 = 1
HASH_SHAKE256 = 1
MODE_CLEAR, MODE_ZK = 0, 1
KIND_TRAINING = 1
KIND_INFERENCE = 2  # ``verifier.inference_bundle``
RANGE_IDS = {"limbs": 1, "bits": 2}
MAX_PROOF_BYTES = 1 << 32


@dataclass
class SegmentReport:
    """One segment of an accepted or parsed bundle: where it lies in the run and its own
    public commitments in full (name -> hex of the concatenated 48-byte row commitments)."""

    index: int
    first_step: int
    steps: int
    commitments: dict[str, str]


@dataclass
class Report:
    """The outcome of a verification, for humans (``zktrain verify``) and pipelines (--json).

    ``soundness_bits`` (on acceptance): -log2 of the bound on the probability that the
    verifier accepts a false statement, summed over the segments' challenges
    (``verifier.transcript``; SECURITY.md). ``artifacts`` says, per artifact ("data",
    "model"), what the accepted proof binds it to, in words (SECURITY.md, "What an accepted
    proof means")."""

    accepted: bool
    reason: str
    recipe_name: str | None = None
    recipe_digest: str | None = None
    mode: str | None = None
    range_check: str | None = None
    steps: int | None = None
    segment_steps: int | None = None
    widths: list[int] | None = None
    bundle_bytes: int = 0
    proof_bytes: int = 0
    seconds: float = 0.0
    soundness_bits: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    segments: list[SegmentReport] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class _SeededInit:
    """The recipe's seeded W_0, b_0, derived on first use: building the statements does no
    work the recipe sizes (the walk asks for them after reading the witness commitments)."""

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    @cached_property
    def values(self) -> tuple[list, list]:
        return seeded_parameters(self.recipe)

    def part(self, index: int) -> "_LazyPart":
        return _LazyPart(self, index)


class _LazyPart(Sequence):
    """W_0 (index 0) or b_0 (index 1) of a ``_SeededInit``, one entry per layer."""

    def __init__(self, seeded: _SeededInit, index: int):
        self._seeded, self._index = seeded, index

    def __len__(self) -> int:
        return self._seeded.recipe.model.layers

    def __getitem__(self, layer):
        return self._seeded.values[self._index][layer]


def segment_statements(recipe: Recipe, range_check: str = "limbs", segment_steps: int | None = None) -> list[TrainingStatement]:
    """The public statements a recipe, a range gadget and a segment length determine: segment
    k proves steps [k S, (k + 1) S) (the last may be shorter), from the recipe's W_0, b_0 for
    k = 0 and from the previous segment's committed checkpoint after.

    Their data binding (``verifier.data``) is the recipe's; a committed data set's rows of each
    step follow from the seed (``circuits.data.batch_order``), and so would a public one's, but
    its values come with the data set: ``bind_public_data`` completes those statements."""
    steps = recipe.train.steps
    size = steps if segment_steps is None else segment_steps
    if not 1 <= size <= steps:
        raise ValueError(f"steps per segment must be in [1, {steps}], got {size}")
    whole = MlpCircuit.from_recipe(recipe, range_check)
    raw = recipe.to_canonical_json()
    count = -(-steps // size)
    seeded = _SeededInit(recipe)
    d = recipe.data
    rows = batch_order(d.rows, recipe.train.batch_size, steps, recipe.seed) if d.bound else None
    out = []
    for k in range(count):
        lr = whole.lr[k * size : (k + 1) * size]
        # Segment 0 starts from the recipe's W_0 (seeded values, or range-checked committed
        # slots for init: committed); every later one from its predecessor's checkpoint.
        # Segment 0 also range-checks a committed data set, which every segment shares.
        circuit = replace(whole, steps=len(lr), lr=lr, init_committed=whole.init_committed and k == 0,
                          dataset_checked=k == 0)
        init = (seeded.part(0), seeded.part(1)) if k == 0 and not whole.init_committed else (None, None)
        if d.binding == "committed":
            data = CommittedData(rows[k * size : k * size + len(lr)])
        elif d.binding == "public":
            data = PublicData(None, None)  # the values come with the data set: bind_public_data
        else:
            data = PrivateData()
        out.append(TrainingStatement(circuit, raw, *init, segment=k, segments=count, segment_steps=size, data=data))
    return out


def bind_public_data(statements: Sequence[TrainingStatement], recipe: Recipe, x: np.ndarray, y: np.ndarray) -> list[TrainingStatement]:
    """The statements of a recipe of public data, with each segment's batch stream drawn from
    the encoded training rows x [n, d_0], y [n, d_L] (``verifier.data.load_public_dataset``)."""
    rows = batch_order(recipe.data.rows, recipe.train.batch_size, recipe.train.steps, recipe.seed)
    out = []
    for st in statements:
        c = st.circuit
        selected = rows[st.first_step : st.first_step + c.steps]
        streams = []
        for values, layer in ((x, 0), (y, c.layers)):
            stream = np.zeros((c.padded_steps, c.batch, 1 << c.width_vars(layer)), dtype=np.int64)
            stream[: c.steps, :, : values.shape[1]] = values[selected]
            streams.append(stream)
        out.append(replace(st, data=PublicData(*streams)))
    return out


@dataclass
class Segment:
    """One segment of a run: its statement, its own public commitments, its proof body."""

    statement: TrainingStatement
    public: dict[str, HyraxCommitment]
    proof: bytes


def _own_public(statement: TrainingStatement) -> list[str]:
    """The public tensors a segment brings (its starting checkpoint is its predecessor's, a
    committed data set is the bundle's)."""
    inherited = set(statement.checkpoint_tensors("0")) if statement.committed_init else set()
    inherited |= set(statement.circuit.dataset_layouts())
    return [name for name in statement.public_tensors() if name not in inherited]


def _rows(statement: TrainingStatement, name: str) -> int:
    return HyraxLayout.square(statement.tensor_vars(name)).num_rows


def _least_bytes(statements: Sequence[TrainingStatement], zk: bool) -> int:
    """The bytes the statements imply at least: a committed data set's row commitments, then
    per segment its own public commitments, its proof-length field and the least proof body
    (``TrainingStatement.min_proof_bytes``). Segments of one shape (all but the first and the
    last) are sized once."""
    sizes: dict[tuple, int] = {}
    first = statements[0].circuit
    total = POINT_BYTES * sum(_rows(statements[0], name) for name in first.dataset_layouts())
    for st in statements:
        key = (st.circuit.steps, st.committed_init, st.circuit.init_committed)
        if key not in sizes:
            public = sum(_rows(st, name) for name in _own_public(st))
            sizes[key] = POINT_BYTES * public + 8 + st.min_proof_bytes(zk)
        total += sizes[key]
    return total


def encode_bundle(
    statements: Sequence[TrainingStatement],
    segments: Sequence[tuple[dict[str, HyraxCommitment], bytes]],
    zk: bool = False,
    dataset: DatasetCommitment | None = None,
) -> bytes:
    """The bundle of a run: its ``segment_statements``, the data owner's commitment for
    committed data, and, per segment, the public commitments and proof body."""
    if len(statements) != len(segments):
        raise ValueError(f"{len(segments)} segment proofs for {len(statements)} segments")
    first = statements[0]
    if (dataset is not None) != (first.circuit.data_binding == "committed"):
        raise ValueError("a bundle carries the data owner's commitment exactly when the data is committed")
    parts = [
        MAGIC,
        FORMAT_VERSION.to_bytes(2, "little"),
        bytes([CURVE_BLS12_381, HASH_SHAKE256, MODE_ZK if zk else MODE_CLEAR, KIND_TRAINING,
               RANGE_IDS[first.circuit.range_check]]),
        len(first.recipe).to_bytes(4, "little"),
        first.recipe,
        first.segment_steps.to_bytes(4, "little"),
        b"" if dataset is None else dataset.x.to_bytes() + dataset.y.to_bytes(),
    ]
    for statement, (public, proof) in zip(statements, segments):
        parts += [public[name].to_bytes() for name in _own_public(statement)]
        parts += [len(proof).to_bytes(8, "little"), proof]
    return b"".join(parts)


@dataclass
class ParsedBundle:
    recipe: Recipe
    segments: list[Segment]
    zk: bool
    #: Committed data: the data owner's commitment the bundle carries (its digest is the recipe's).
    dataset: DatasetCommitment | None = None

    @property
    def final(self) -> Segment:
        return self.segments[-1]


def read_header(reader: Reader) -> tuple[bool, int, str]:
    """The header every bundle kind shares (magic, version, curve, hash, mode, kind, range):
    (zero-knowledge, kind, range gadget); raises VerifyError on an unknown value."""
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
    if kind not in (KIND_TRAINING, KIND_INFERENCE):
        raise VerifyError(f"unknown proof kind {kind}")
    range_check = next((name for name, i in RANGE_IDS.items() if i == range_id), None)
    if range_check is None:
        raise VerifyError(f"unknown range-check gadget {range_id}")
    return mode == MODE_ZK, kind, range_check


def parse_bundle(data: bytes) -> ParsedBundle:
    """Parse and structurally check a bundle; raises VerifyError (with a reason) on anything off."""
    reader = Reader(data, "bundle")
    zk, kind, range_check = read_header(reader)
    if kind == KIND_INFERENCE:
        raise VerifyError("an inference bundle: verify it with --training (the training bundle it names)")
    length = int.from_bytes(reader.take(4), "little")
    if length > MAX_CANONICAL_BYTES:
        raise VerifyError(f"recipe of {length} bytes exceeds the limit of {MAX_CANONICAL_BYTES}")
    try:
        recipe = Recipe.from_canonical_json(reader.take(length))
        segment_steps = int.from_bytes(reader.take(4), "little")
        if 1 <= segment_steps:  # every segment needs its u64 proof length: bound before building
            reader.expect(-(-recipe.train.steps // segment_steps) * 8)
        statements = segment_statements(recipe, range_check, segment_steps)
        least = _least_bytes(statements, zk)
    except (RecipeError, ValueError) as err:
        raise VerifyError(f"recipe rejected: {err}") from None
    if least > reader.remaining:
        raise VerifyError(f"bundle: truncated (the recipe implies at least {least} more bytes, "
                          f"{reader.remaining} follow)")
    dataset = None
    if recipe.data.binding == "committed":
        dataset = DatasetCommitment.read_rows(reader, statements[0].circuit.dataset_encoding())
        if dataset.digest() != recipe.data.sha256:
            raise VerifyError(f"bundle: its data commitment has digest {dataset.digest()}, the recipe's data is "
                              f"{recipe.data.sha256}")
    segments = []
    for statement in statements:
        public = {name: HyraxCommitment(tuple(reader.points(_rows(statement, name)))) for name in _own_public(statement)}
        proof_length = int.from_bytes(reader.take(8), "little")
        if proof_length > min(reader.remaining, MAX_PROOF_BYTES):
            raise VerifyError(f"segment {statement.segment}: proof body declares {proof_length} bytes "
                              f"but {reader.remaining} follow (truncated)")
        least = statement.min_proof_bytes(zk)
        if proof_length < least:  # the walk would derive a seeded W_0 before it runs out of bytes
            raise VerifyError(f"segment {statement.segment}: proof body of {proof_length} bytes is shorter "
                              f"than the {least} its statement implies")
        segments.append(Segment(statement, public, reader.take(proof_length)))
    if reader.remaining:
        raise VerifyError(f"{reader.remaining} trailing bytes after the last segment")
    return ParsedBundle(recipe, segments, zk, dataset)


def verify_segments(parsed: ParsedBundle, curve: str = "blst") -> int:
    """Verify every segment in order, each from the checkpoint the previous one committed to;
    returns the sum of all segments' challenge degrees (``verifier.transcript``)."""
    verify = verify_training_zk if parsed.zk else verify_training
    previous: dict[str, HyraxCommitment] = {}
    shared = {} if parsed.dataset is None else parsed.dataset.tensors()
    degree_sum = 0
    for seg in parsed.segments:
        public = {**seg.public, **shared}
        if seg.statement.committed_init:
            public.update({name: previous[name.replace(".0", ".T")] for name in seg.statement.checkpoint_tensors("0")})
        try:
            degree_sum += verify(seg.statement, public, seg.proof, curve)
        except VerifyError as err:
            prefix = f"segment {seg.statement.segment}: " if len(parsed.segments) > 1 else ""
            raise VerifyError(f"{prefix}{err}") from None
        previous = public
    return degree_sum


def segment_reports(parsed: ParsedBundle) -> list[SegmentReport]:
    return [
        SegmentReport(seg.statement.segment, seg.statement.first_step, seg.statement.circuit.steps,
                      {name: com.to_bytes().hex() for name, com in seg.public.items()})
        for seg in parsed.segments
    ]


def bind_data(parsed: ParsedBundle, dataset=None, data_commitment=None) -> str:
    """Bind the bundle's data to what the auditor holds, before its proofs are verified, and
    say in words what it is bound to (``Report.artifacts["data"]``).

    Public data needs the data set (bytes or path of its .npz), whose encoded rows must have
    the recipe's digest; the statements then carry the batch stream the verifier derived.
    Committed data is the bundle's commitment (its digest is the recipe's); given the data
    owner's published commitment file, it must be that one. Giving an artifact the binding
    has no use for is refused, so an auditor never believes a check that did not happen."""
    binding, digest = parsed.recipe.data.binding, parsed.recipe.data.sha256
    if binding != "public" and dataset is not None:
        raise VerifyError(f"a data set was given, but the bundle's data is {binding}, not public")
    if binding != "committed" and data_commitment is not None:
        raise VerifyError(f"a data commitment was given, but the bundle's data is {binding}, not committed")
    if binding == "private":
        return "private: the prover's own commitments, bound to no data set"
    if binding == "public":
        if dataset is None:
            raise VerifyError("the bundle's data is public: verify it with the data set (--data FILE)")
        raw, what = read_artifact(dataset, "data set")
        x, y = load_public_dataset(raw, parsed.recipe, what)
        statements = bind_public_data([seg.statement for seg in parsed.segments], parsed.recipe, x, y)
        for seg, statement in zip(parsed.segments, statements, strict=True):
            seg.statement = statement
        return f"public: the given data set ({what}; SHA-256 of its encoded rows {digest})"
    if data_commitment is None:
        return f"committed: the commitment of digest {digest} the bundle carries (no published commitment given)"
    raw, what = read_artifact(data_commitment, "data commitment")
    given = DatasetCommitment.from_bytes(raw, what)
    if given.digest() != digest:
        raise VerifyError(f"{what}: digest {given.digest()}, but the bundle's data is committed by {digest}")
    return f"committed: the given data commitment ({what}; digest {digest})"


def verify_bundle(data: bytes, curve: str = "blst", *, dataset=None, data_commitment=None, weights=None) -> Report:
    """The embeddable API: ACCEPT or REJECT with a reason; never raises on any input.

    ``dataset`` (public data) and ``data_commitment`` (committed data): what the auditor holds
    of the data, bytes or a path (``bind_data``). ``weights``: a disclosed model file
    (``verifier.model``), its bytes or its path, checked against the last segment's W_T, b_T
    commitments once the proof verifies; a model that does not open them makes the report a
    rejection naming the tensor. ``report.artifacts`` says what each artifact is bound to."""
    start = time.perf_counter()
    report = Report(False, "", bundle_bytes=len(data) if isinstance(data, (bytes, bytearray)) else 0)
    try:
        parsed = parse_bundle(data)
        recipe = parsed.recipe
        report.recipe_name, report.recipe_digest = recipe.name, recipe.digest().hex()
        report.mode = "zk" if parsed.zk else "clear"
        report.range_check = parsed.final.statement.circuit.range_check
        report.steps, report.widths = recipe.train.steps, list(recipe.model.widths)
        report.segment_steps = parsed.segments[0].statement.segment_steps
        report.proof_bytes = sum(len(seg.proof) for seg in parsed.segments)
        report.segments = segment_reports(parsed)
        data_binding = bind_data(parsed, dataset, data_commitment)
        degree_sum = verify_segments(parsed, curve)
        model = "not checked: the final weights are known only by their commitments"
        if weights is not None:
            final = parsed.final
            model = verify_model(weights, recipe, parsed.zk, final.statement, final.public, curve)
        report.accepted, report.reason = True, "the proof of training verifies"
        report.soundness_bits = soundness_bits(degree_sum)
        report.artifacts = {
            "data": data_binding,
            "model": model,
        }
    except VerifyError as err:
        report.reason = str(err)
    except Exception as err:  # malformed input must never crash the caller (DESIGN section 7)
        report.reason = f"malformed input ({type(err).__name__}: {err})"
    report.seconds = time.perf_counter() - start
    return report
