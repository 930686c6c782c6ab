"""Structure-aware fuzzing of the bundle parser and verifier (DESIGN section 7).

What is fuzzed: ``verifier.bundle.parse_bundle`` and ``verifier.bundle.verify_bundle`` on
mutants of four honest bundles of the tiny run (``tests/tiny_run.py``), built once per module:
a clear one-segment bundle, a zero-knowledge one, a clear bundle of three one-step segments,
and a clear one-segment bundle of another run (other name and seed) for splices.

Before fuzzing, one honest verification of each bundle runs with ``Reader.__init__``,
``take``, ``scalar`` and ``point`` wrapped, which records where every scalar and point the
verifier reads lies in the bundle: the bundle's own reader maps to offset 0, and a reader over
a chunk another reader took (the proof body, an inner-product proof, a ZK sumcheck proof) to
the chunk's offset. So the point and scalar mutations hit exactly the encodings the verifier
parses, and the positive controls check that the recorder located all of them.

Mutation classes (one hypothesis test each):

1. header fields (magic, version, curve, hash, mode, kind, range) set to other values;
2. length fields (recipe length, steps per segment, each segment's u64 proof length) set to
   boundary values: 0, 1, the true value +- 1, the remaining bytes, 2^31, 2^32 - 1, 2^64 - 1;
3. canonical recipe edits (one field changed through ``Recipe.to_dict`` / ``from_dict``,
   re-encoded canonically, or kept as canonically formatted JSON when the recipe is invalid)
   with the recipe length updated;
4. non-canonical recipe JSON: whitespace, key order, floats, exponents, leading zeros,
   duplicate keys, escapes, non-ASCII, literals of other types, nesting;
5. scalars: a located scalar set to r, r + small, 2^256 - 1, 0, 1, its neighbours, any value;
6. points: a located point set to the identity, its flag-cleared form, x >= p, an x off the
   curve, a curve point outside the prime-order subgroup, the generator, another point of
   the bundle, its negation, non-canonical identities, random bytes;
7. segments of the three-segment bundle reordered, dropped, duplicated, or mixed with the
   one-segment bundles' segments;
8. splices of two honest bundles: head of one with the segments of the other, a prefix and a
   suffix cut at structure boundaries, at one common offset, or at random offsets;
9. random byte flips, insertions, deletions, overwrites, truncations and appends.

Invariants, for every mutant that differs from every honest bundle:

a. ``parse_bundle`` raises nothing but ``VerifyError``; ``verify_bundle`` returns a
   ``Report`` and raises nothing, and its rejection comes from a ``VerifyError`` (a reason
   starting "malformed input (" means another exception reached its catch-all);
b. the mutant is rejected;
c. the peak of Python-tracked memory (``tracemalloc``: Python objects and numpy buffers)
   during parsing and during verification stays under ``MEMORY_BOUND``.
No assertion is about wall-clock time.

``ZKTRAIN_FUZZ_EXAMPLES`` sets the number of examples per test (``make fuzz`` runs 5000).
Unset, each test runs ``DEFAULT_EXAMPLES`` derandomized examples, so that ``make test`` is
deterministic and this file takes well under a minute on the 2-core development VM (the
honest bundles are re-proven each run with fresh blinding, so their bytes differ; the
mutation choices do not). The findings are kept as regular tests at the end of the file
(``MAX_NESTING`` nests past the interpreter's recursion limit). A one-line
summary (mutants per strategy, how many got past parse_bundle, the largest memory peak, wall
time) is printed at module teardown, past pytest's output capture.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from tiny_run import tiny_run

from circuits.recipe import (
    MAX_BATCH,
    MAX_LR_NUM,
    MAX_STEPS,
    MAX_WIDTH,
    Recipe,
    RecipeError,
)
from verifier import field as fr
from verifier.bundle import Report, parse_bundle, verify_bundle
from verifier.curve import IDENTITY_BYTES, POINT_BYTES, P, get_curve, parse_compressed
from verifier.encoding import SCALAR_BYTES, Reader
from verifier.errors import VerifyError
from zktrain.prove import prove_run
from zktrain.run_config import parse_run

# --- settings ----------------------------------------------------------------------------

#: Examples per test when ZKTRAIN_FUZZ_EXAMPLES is unset (the bounded pass of make test).
DEFAULT_EXAMPLES = 40
_ENV_EXAMPLES = os.environ.get("ZKTRAIN_FUZZ_EXAMPLES")
EXAMPLES = int(_ENV_EXAMPLES) if _ENV_EXAMPLES else DEFAULT_EXAMPLES

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a ZK mutant can take a full verification (about 1 s); never time-boxed
    derandomize=_ENV_EXAMPLES is None,  # make test: the same examples on every run
    database=None,  # no .hypothesis/ in the working tree; failures print a reproduce blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: Honest verification of these bundles peaks at about 1.6 MiB of tracked memory (measured
#: with tracemalloc: 1.6 MiB clear, 0.9 MiB ZK, 1.5 MiB three segments). 64 MiB is 40 times
#: that: a mutant near it means the verifier allocates for something the bytes did not pay
#: for (a size taken from the recipe or a length field before checking it).
MEMORY_BOUND = 64 << 20

R = fr.MODULUS
HEADER_FIELDS = {  # name: (offset, width), all before the recipe length at offset 15
    "magic": (0, 8),
    "version": (8, 2),
    "curve": (10, 1),
    "hash": (11, 1),
    "mode": (12, 1),
    "kind": (13, 1),
    "range": (14, 1),
}
RECIPE_LENGTH_AT = 15
RECIPE_AT = 19

#: Nesting up to this deep in the recipe JSON: past the interpreter's recursion limit (about
#: 1000), where the RecursionError finding below was.
MAX_NESTING = 3000

STATS: Counter[str] = Counter()


# --- the honest bundles and where their scalars and points lie ---------------------------

RUNS = {
    "clear": lambda: tiny_run({"zk": False}, name="fuzz"),
    "zk": lambda: tiny_run({"zk": True}, name="fuzz"),
    "chain": lambda: tiny_run({"zk": False, "segment_steps": 1}, name="fuzz"),
    "other": lambda: tiny_run({"zk": False}, name="fuzz-other", seed=4),
}
NAMES = tuple(RUNS)


@dataclass(frozen=True)
class Honest:
    """An honest bundle with its structure: the header through the steps-per-segment field
    (``head`` bytes), each segment's byte range and u64 proof-length field, and the offset and
    kind of every scalar and point the verifier reads."""

    name: str
    data: bytes = field(repr=False)
    recipe: bytes = field(repr=False)
    head: int = field(repr=False)
    segments: tuple[tuple[int, int], ...] = field(repr=False)
    proof_lengths: tuple[int, ...] = field(repr=False)  # offset of each segment's u64 length
    scalars: tuple[int, ...] = field(repr=False)
    points: tuple[int, ...] = field(repr=False)
    peak: int = field(repr=False)  # tracked memory peak of its honest verification

    @property
    def length_fields(self) -> list[tuple[str, int, int]]:
        """(name, offset, width) of every length field."""
        out = [("recipe length", RECIPE_LENGTH_AT, 4), ("steps per segment", self.head - 4, 4)]
        return out + [(f"segment {k} proof length", at, 8) for k, at in enumerate(self.proof_lengths)]

    def segment_bytes(self, k: int) -> bytes:
        start, end = self.segments[k]
        return self.data[start:end]

    @functools.cached_property
    def boundaries(self) -> tuple[int, ...]:
        """Every offset where one field, encoding or segment ends and the next begins."""
        cuts = {0, len(self.data), RECIPE_AT, RECIPE_AT + len(self.recipe), self.head}
        cuts |= {at for at, _ in HEADER_FIELDS.values()}
        cuts |= {at for segment in self.segments for at in segment}
        cuts |= {at for at in self.proof_lengths} | {at + 8 for at in self.proof_lengths}
        cuts |= set(self.scalars) | set(self.points)
        return tuple(sorted(cuts))


@contextlib.contextmanager
def _recording_reads(bundle: bytes):
    """Wrap ``Reader`` so that every scalar and point read gets its absolute bundle offset.

    Yields the list the reads go to: (offset, "scalar" | "point"), offset None when the
    reader's bytes could not be traced back to the bundle (the positive control fails then).
    Chunks are kept alive in ``chunks`` so that ``id`` stays unique while recording.
    """
    readers: dict[int, tuple[Reader, int]] = {}  # id(reader) -> (reader, offset of its data)
    chunks: dict[int, tuple[bytes, int]] = {}  # id(chunk) -> (chunk, offset in the bundle)
    reads: list[tuple[int | None, str]] = []
    init, take, scalar, point = Reader.__init__, Reader.take, Reader.scalar, Reader.point

    def base(reader: Reader) -> int | None:
        hit = readers.get(id(reader))
        return hit[1] if hit is not None and hit[0] is reader else None

    def recording_init(self, data, what):
        init(self, data, what)
        if self._data is bundle:
            readers[id(self)] = (self, 0)
        else:  # Reader keeps a bytes argument as is, so a taken chunk is found by identity
            hit = chunks.get(id(self._data))
            if hit is not None and hit[0] is self._data:
                readers[id(self)] = (self, hit[1])

    def recording_take(self, n):
        at, chunk = self._pos, take(self, n)
        offset = base(self)
        if offset is not None and n > 8:  # short bytes may be interned singletons
            chunks[id(chunk)] = (chunk, offset + at)
        return chunk

    def recorder(kind, read):
        def recording_read(self):
            offset = base(self)
            reads.append((None if offset is None else offset + self._pos, kind))
            return read(self)

        return recording_read

    Reader.__init__, Reader.take = recording_init, recording_take
    Reader.scalar, Reader.point = recorder("scalar", scalar), recorder("point", point)
    try:
        yield reads
    finally:
        Reader.__init__, Reader.take, Reader.scalar, Reader.point = init, take, scalar, point


def _measured(fn, *args):
    """fn(*args) and the peak of tracemalloc-tracked memory it allocated, in bytes."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


def _build(name: str) -> Honest:
    data, _ = prove_run(parse_run(RUNS[name]()))
    with _recording_reads(data) as reads:
        report, peak = _measured(verify_bundle, data)
    assert report.accepted, f"honest bundle {name}: {report.reason}"
    assert all(offset is not None for offset, _ in reads), f"{name}: a reader not traced to the bundle"
    kinds = dict(reads)
    assert len(kinds) == len(reads), f"{name}: one offset read twice"
    parsed = parse_bundle(data)
    recipe_length = int.from_bytes(data[RECIPE_LENGTH_AT:RECIPE_AT], "little")
    head = RECIPE_AT + recipe_length + 4
    segments, proof_lengths, at = [], [], head
    for seg in parsed.segments:
        public = sum(len(c.to_bytes()) for c in seg.public.values())
        proof_lengths.append(at + public)
        segments.append((at, at + public + 8 + len(seg.proof)))
        at = segments[-1][1]
    assert at == len(data)
    return Honest(
        name,
        data,
        data[RECIPE_AT : RECIPE_AT + recipe_length],
        head,
        tuple(segments),
        tuple(proof_lengths),
        tuple(sorted(o for o, k in kinds.items() if k == "scalar")),
        tuple(sorted(o for o, k in kinds.items() if k == "point")),
        peak,
    )


@functools.cache
def _honest() -> dict[str, Honest]:
    return {name: _build(name) for name in NAMES}


@functools.cache
def _honest_bytes() -> frozenset[bytes]:
    return frozenset(h.data for h in _honest().values())


@pytest.fixture(scope="module", autouse=True)
def honest(request):
    """Build the honest bundles once; print the statistics line at module teardown."""
    start = time.perf_counter()
    bundles = _honest()
    STATS["seconds building honest bundles"] = round(time.perf_counter() - start)
    yield bundles
    _print_summary(request, time.perf_counter() - start)


def _print_summary(request, seconds: float) -> None:
    strategies = sorted(k.removeprefix("tried ") for k in STATS if k.startswith("tried "))
    line = (
        f"test_fuzz_bundle: {EXAMPLES} examples per test ({'derandomized' if _ENV_EXAMPLES is None else 'random'}), "
        f"{sum(STATS[f'tried {k}'] for k in strategies)} mutants verified in {seconds:.0f} s "
        f"(building the honest bundles {STATS['seconds building honest bundles']} s); "
        "per strategy tried (of which parsed and rejected by the walk): "
        + ", ".join(f"{k} {STATS[f'tried {k}']} ({STATS[f'walk {k}']})" for k in strategies)
        + f"; skipped as unchanged {STATS['unchanged']}; "
        f"largest tracked peak {STATS['largest peak (bytes)'] / (1 << 20):.1f} MiB"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + line)


# --- the invariants ----------------------------------------------------------------------


class Mutant:
    """A mutated bundle with a short description (a plain class, not a dataclass, so that
    hypothesis prints the description of a failing example rather than ~100 KB of bytes)."""

    __slots__ = ("data", "strategy", "what")

    def __init__(self, strategy: str, what: str, data: bytes):
        self.strategy, self.what, self.data = strategy, what, data

    def __repr__(self) -> str:
        return f"Mutant({self.strategy}: {self.what}; {len(self.data)} bytes)"


def _parse_outcome(data: bytes) -> str | None:
    try:
        parse_bundle(data)
    except VerifyError as err:  # anything else escapes and fails the test (invariant a)
        return str(err)
    return None


def check_rejected(m: Mutant) -> Report:
    """Invariants a, b, c for one mutant (assumed away when it is an honest bundle)."""
    if m.data in _honest_bytes():
        STATS["unchanged"] += 1
    assume(m.data not in _honest_bytes())
    note(repr(m))
    STATS[f"tried {m.strategy}"] += 1
    parse_error, parse_peak = _measured(_parse_outcome, m.data)
    report, peak = _measured(verify_bundle, m.data)
    assert isinstance(report, Report)
    accepted, reason, peak = report.accepted, report.reason, max(parse_peak, peak)  # short messages
    assert not accepted, f"{m!r} accepted"
    assert isinstance(reason, str) and reason
    assert not reason.startswith("malformed input ("), f"{m!r}: {reason}"
    assert peak < MEMORY_BOUND, f"{m!r}: peak {peak >> 20} MiB"
    STATS[f"walk {m.strategy}"] += parse_error is None  # parsed, so rejected by the walk
    STATS["largest peak (bytes)"] = max(STATS["largest peak (bytes)"], peak)
    return report


# --- strategies --------------------------------------------------------------------------


def bundles(names=NAMES):
    return st.sampled_from(names).map(lambda name: _honest()[name])


def _replace(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


@st.composite
def header_mutants(draw):
    h = draw(bundles())
    data = h.data
    names = draw(st.lists(st.sampled_from(sorted(HEADER_FIELDS)), min_size=1, max_size=3, unique=True))
    for name in names:
        at, width = HEADER_FIELDS[name]
        old = int.from_bytes(data[at : at + width], "little")
        top = (1 << 8 * width) - 1
        near = [0, 1, 2, old ^ 1, old + 1, old - 1, old ^ (0x80 << 8 * (width - 1)), top]
        value = draw(
            st.one_of(st.sampled_from([v for v in near if 0 <= v <= top]), st.integers(0, top)).filter(
                lambda v, old=old: v != old
            )
        )
        data = _replace(data, at, value.to_bytes(width, "little"))
    return Mutant("header", f"{h.name} {names} -> {data[:15].hex()}", data)


@st.composite
def length_mutants(draw):
    h = draw(bundles())
    name, at, width = draw(st.sampled_from(h.length_fields))
    true = int.from_bytes(h.data[at : at + width], "little")
    top = (1 << 8 * width) - 1
    rest = len(h.data) - at - width
    near = [0, 1, 2, true - 1, true + 1, true + 8, true - 32, true + 48, true // 2, 2 * true, rest, rest + 1]
    near += [1 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + true, 1 << 63, top, top - 1]
    value = draw(
        st.one_of(st.sampled_from([v for v in near if 0 <= v <= top]), st.integers(0, top)).filter(lambda v: v != true)
    )
    return Mutant("length", f"{h.name} {name} {true} -> {value}", _replace(h.data, at, value.to_bytes(width, "little")))


def _with_recipe(h: Honest, raw: bytes) -> bytes:
    """h with its recipe replaced by ``raw`` and the recipe length updated."""
    return h.data[:RECIPE_LENGTH_AT] + len(raw).to_bytes(4, "little") + raw + h.data[RECIPE_AT + len(h.recipe) :]


_NAME_CHARS = "ABCXYZabcxyz0123456789._-"
_WRONG_TYPES = st.sampled_from([None, "", "3", True, False, [], [3], {}, {"a": 1}, -1, 1 << 64])


def _recipe_edit(draw, d: dict, breaking: bool) -> str:
    """Change one field of the recipe dict ``d`` in place; returns what was done. Only a
    ``breaking`` edit may change the structure (keys, types), so it comes last."""
    section, key = draw(
        st.sampled_from(
            [("", "name"), ("", "seed"), ("", "semantics")]
            + [("data", k) for k in sorted(d["data"])]
            + [("model", k) for k in sorted(d["model"])]
            + [("train", k) for k in sorted(d["train"])]
            + [("quant", k) for k in sorted(d["quant"])]
            + [("", "shape"), ("", "steps+lr")]
            + ([("", "unknown key"), ("", "missing key"), ("", "wrong type")] if breaking else [])
        )
    )
    body = d[section] if section else d
    if key == "shape":  # a consistent new MLP shape: features and classes follow the widths
        # Widths stay small: these bundles hold ~100-260 KB, a larger model is rejected as
        # truncated before anything is derived from it (and costs only parse time).
        widths = draw(st.lists(st.integers(1, 64), min_size=2, max_size=5))
        d["model"]["widths"], d["data"]["features"], d["data"]["classes"] = widths, widths[0], widths[-1]
        return f"shape {widths}"
    if key == "steps+lr":  # steps with lr_num resized to match
        steps = draw(st.integers(1, 8) | st.sampled_from([64, 1000]))
        lr = d["train"]["lr_num"]
        d["train"]["steps"], d["train"]["lr_num"] = steps, (lr * steps)[:steps]
        return f"steps {steps} with lr_num resized"
    if key == "unknown key":
        target = draw(st.sampled_from(["", "data", "model", "train", "quant"]))
        (d[target] if target else d)[draw(st.sampled_from(["zk", "extra", "lr", "bias2"]))] = 1
        return f"unknown key in {target or 'top'}"
    if key == "missing key":
        target = draw(st.sampled_from(["data", "model", "train", "quant"]))
        dropped = draw(st.sampled_from(sorted(d[target])))
        del d[target][dropped]
        return f"dropped {target}.{dropped}"
    if key == "wrong type":
        target = draw(st.sampled_from(["", "data", "model", "train", "quant"]))
        name = draw(st.sampled_from(sorted(d[target] if target else d)))
        value = draw(_WRONG_TYPES)
        (d[target] if target else d)[name] = value
        return f"{target}.{name} = {value!r}"
    old = body[key]
    if key == "name":
        value = draw(st.text(_NAME_CHARS, min_size=1, max_size=64) | st.sampled_from(["", "x" * 65, "a b", "é", "a/b"]))
    elif key == "widths":
        i = draw(st.integers(0, len(old) - 1))
        value = list(old)
        value[i] = draw(st.integers(0, 300) | st.sampled_from([MAX_WIDTH, MAX_WIDTH + 1]))
        if draw(st.booleans()):  # also an added or removed layer
            value = value + [draw(st.integers(1, 16))] if len(value) < 3 or draw(st.booleans()) else value[:-1]
    elif key == "lr_num":
        i = draw(st.integers(0, len(old) - 1))
        value = list(old)
        value[i] = draw(st.integers(0, MAX_LR_NUM + 1) | st.sampled_from([old[i] - 1, old[i] + 1, 0, MAX_LR_NUM]))
    elif key == "batch_size":
        value = draw(st.sampled_from([0, 1, 2, 4, 16, 3, 6, MAX_BATCH, MAX_BATCH + 1]) | st.integers(0, 2 * MAX_BATCH))
    elif key == "steps":  # lr_num left as it is (mostly inconsistent)
        value = draw(st.integers(0, 8) | st.sampled_from([MAX_STEPS, MAX_STEPS + 1]))
    elif key == "seed":
        value = draw(st.integers(0, (1 << 64) - 1) | st.sampled_from([-1, 1 << 64, old - 1, old + 1]))
    elif isinstance(old, bool):
        value = draw(st.sampled_from([not old, 0, 1]))
    elif isinstance(old, int):
        value = draw(st.integers(-1, 70) | st.sampled_from([old - 1, old + 1, 1 << 62]))
    else:  # the string choices: other members and non-members
        value = draw(st.sampled_from(["digits", "npz", "synthetic", "mlp", "relu", "sgd", "mse", "seeded", "committed", "adam", ""]))
    body[key] = value
    return f"{section + '.' if section else ''}{key}: {old!r} -> {value!r}"


@st.composite
def recipe_mutants(draw):
    h = draw(bundles())
    d = Recipe.from_canonical_json(h.recipe).to_dict()
    count = draw(st.integers(1, 2))
    edits = [_recipe_edit(draw, d, breaking=i == count - 1) for i in range(count)]
    try:
        raw = Recipe.from_dict(d).to_canonical_json()
        valid = "valid"
    except RecipeError:  # an invalid recipe: its canonically formatted JSON (must be refused)
        raw = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        valid = "invalid"
    return Mutant("recipe", f"{h.name} {valid} {'; '.join(edits)}", _with_recipe(h, raw))


def _noncanonical(draw, raw: bytes, d: dict) -> tuple[str, bytes]:
    """A non-canonical encoding of the recipe ``d`` (canonical bytes ``raw``)."""
    text = raw.decode("ascii")
    how = draw(
        st.sampled_from(
            ["spaces", "indent", "key order", "whitespace", "bom", "float", "exponent", "leading zero", "plus",
             "minus zero", "duplicate key", "escape", "non-ascii", "bool for int", "int for bool", "constant",
             "nesting", "long int", "trailing", "comment", "single quotes", "top level"]
        )
    )
    ints = [k for k in ("seed", "semantics") if k in d]
    if how == "spaces":
        return how, json.dumps(d, sort_keys=True).encode()
    if how == "indent":
        return how, json.dumps(d, sort_keys=True, indent=draw(st.integers(0, 4))).encode()
    if how == "key order":
        def unsorted(o):
            return {k: unsorted(o[k]) for k in sorted(o, reverse=True)} if isinstance(o, dict) else o
        return how, json.dumps(unsorted(d), separators=(",", ":")).encode()
    if how == "whitespace":  # one whitespace byte anywhere
        at = draw(st.integers(0, len(raw)))
        return f"{how} at {at}", raw[:at] + draw(st.sampled_from([b" ", b"\t", b"\n", b"\r"])) + raw[at:]
    if how == "bom":
        return how, b"\xef\xbb\xbf" + raw
    if how in ("float", "exponent", "leading zero", "plus", "minus zero", "long int", "nesting"):
        key = draw(st.sampled_from(ints))
        token = f'"{key}":{d[key]}'
        replacement = {
            "float": f'"{key}":{d[key]}.0',
            "exponent": f'"{key}":{d[key]}e0',
            "leading zero": f'"{key}":0{d[key]}',
            "plus": f'"{key}":+{d[key]}',
            "minus zero": f'"{key}":-0',
            "long int": f'"{key}":{"9" * draw(st.sampled_from([20, 400, 4301, 5000]))}',
            "nesting": f'"{key}":' + "[" * (n := draw(st.integers(1, MAX_NESTING))) + "]" * n,
        }[how]
        return f"{how} ({key})", text.replace(token, replacement, 1).encode()
    if how == "duplicate key":
        key = draw(st.sampled_from(ints))
        value = draw(st.sampled_from([d[key], d[key] + 1]))
        return f"{how} {key}={value}", text.replace("{", f'{{"{key}":{value},', 1).encode()
    if how == "escape":  # a character of the name as a \\u escape (same string once decoded)
        i = draw(st.integers(0, len(d["name"]) - 1))
        name = d["name"][:i] + f"\\u{ord(d['name'][i]):04x}" + d["name"][i + 1 :]
        return how, text.replace(f'"name":"{d["name"]}"', f'"name":"{name}"', 1).encode()
    if how == "non-ascii":
        return how, text.replace(f'"name":"{d["name"]}"', f'"name":"{d["name"]}\u00e9"', 1).encode("utf-8")
    if how == "bool for int":
        return how, text.replace('"semantics":1', '"semantics":true', 1).encode()
    if how == "int for bool":
        return how, text.replace('"bias":true', '"bias":1', 1).replace('"bias":false', '"bias":0', 1).encode()
    if how == "constant":
        value = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "null"]))
        return f"{how} {value}", text.replace(f'"seed":{d["seed"]}', f'"seed":{value}', 1).encode()
    if how == "trailing":
        return how, raw + draw(st.sampled_from([b" ", b"\n", b"\x00", b"{}", b","]))
    if how == "comment":
        return how, b"/*x*/" + raw
    if how == "single quotes":
        return how, text.replace('"', "'").encode()
    return how, json.dumps([d], sort_keys=True, separators=(",", ":")).encode()  # "top level"


@st.composite
def noncanonical_mutants(draw):
    h = draw(bundles())
    how, raw = _noncanonical(draw, h.recipe, Recipe.from_canonical_json(h.recipe).to_dict())
    return Mutant("non-canonical recipe", f"{h.name} {how}", _with_recipe(h, raw))


def _scalar_value(draw, old: int) -> int:
    # old + r is the same element, non-canonically: accepted only if the check x < r is lost.
    return draw(
        st.sampled_from([old + R, R, R + 1, R + 2, (1 << 256) - 1, 1 << 255, 0, 1, R - 1, (old + 1) % R, (old - 1) % R])
        | st.integers(R, (1 << 256) - 1)  # non-canonical: must be refused at parsing
        | st.integers(0, R - 1)  # canonical: must be refused by the transcript and checks
    )


@st.composite
def scalar_mutants(draw):
    h = draw(bundles())
    edits, data = [], h.data
    for _ in range(draw(st.integers(1, 2))):
        at = h.scalars[draw(st.integers(0, len(h.scalars) - 1))]
        old = int.from_bytes(h.data[at : at + SCALAR_BYTES], "little")
        value = _scalar_value(draw, old)
        data = _replace(data, at, value.to_bytes(SCALAR_BYTES, "little"))
        edits.append(f"scalar at {at}: {old:#x} -> {value:#x}")
    return Mutant("scalar", f"{h.name} {'; '.join(edits)}", data)


def _compressed(x: int, sign: bool = False) -> bytes:
    raw = bytearray(x.to_bytes(POINT_BYTES, "big"))
    raw[0] |= 0x80 | (0x20 if sign else 0)
    return bytes(raw)


@functools.cache
def _special_points() -> dict[str, bytes]:
    """Encodings the verifier must refuse or that are valid but foreign: the first x with no
    curve point, the first x whose curve point lies outside the order-r subgroup (the curve's
    cofactor is ~2^126, so a small-x point is almost never in it; the positive control
    checks), and the generator."""
    off_curve = on_curve = None
    x = 0
    while off_curve is None or on_curve is None:
        x += 1
        rhs = (x**3 + 4) % P
        if pow(rhs, (P - 1) // 2, P) == 1:
            on_curve = on_curve or x
        else:
            off_curve = off_curve or x
    generator = bytes.fromhex(
        "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
    )
    return {
        "identity": IDENTITY_BYTES,
        "identity with sign bit": bytes([0xE0]) + bytes(POINT_BYTES - 1),
        "identity with x bits": bytes([0xC0]) + bytes(POINT_BYTES - 2) + b"\x01",
        "uncompressed identity": bytes([0x40]) + bytes(POINT_BYTES - 1),
        "x = p": _compressed(P),
        "x = p + 1": _compressed(P + 1, True),
        "x = 2^381 - 1": _compressed((1 << 381) - 1),
        f"x = {off_curve} off the curve": _compressed(off_curve),
        f"x = {on_curve} outside the subgroup": _compressed(on_curve),
        f"x = {on_curve} outside the subgroup, other sign": _compressed(on_curve, True),
        "generator": generator,
        "zero bytes": bytes(POINT_BYTES),
    }


def _point_value(draw, h: Honest, old: bytes) -> tuple[str, bytes]:
    how = draw(st.sampled_from(["special", "x + p", "flag cleared", "negated", "other point", "random"]))
    if how == "special":
        return draw(st.sampled_from(sorted(_special_points().items())))
    parsed = parse_compressed(old)
    if how == "x + p" and parsed is not None and parsed[0] + P < 1 << 381:
        # The same point with x not reduced: accepted only if the check x < p is lost.
        return how, _compressed(parsed[0] + P, parsed[1])
    if how == "x + p":  # the identity, or an x too large to add p within 381 bits
        how = "flag cleared"
    if how == "flag cleared":  # the same x with the compression flag off
        return how, bytes([old[0] & 0x7F]) + old[1:]
    if how == "negated":  # -P: the sign bit flipped (for the identity, a non-canonical one)
        return how, bytes([old[0] ^ 0x20]) + old[1:]
    if how == "other point":
        at = h.points[draw(st.integers(0, len(h.points) - 1))]
        return f"{how} from {at}", h.data[at : at + POINT_BYTES]
    return how, draw(st.binary(min_size=POINT_BYTES, max_size=POINT_BYTES))


@st.composite
def point_mutants(draw):
    h = draw(bundles())
    edits, data = [], h.data
    for _ in range(draw(st.integers(1, 2))):
        at = h.points[draw(st.integers(0, len(h.points) - 1))]
        how, value = _point_value(draw, h, h.data[at : at + POINT_BYTES])
        data = _replace(data, at, value)
        edits.append(f"point at {at} -> {how}")
    return Mutant("point", f"{h.name} {'; '.join(edits)}", data)


@st.composite
def segment_mutants(draw):
    """The three-segment bundle with its segments rearranged (mostly its own)."""
    chain = _honest()["chain"]
    pool = [("chain", k) for k in range(len(chain.segments))] + [(n, 0) for n in ("clear", "zk", "other")]
    own = st.sampled_from(pool[: len(chain.segments)])
    order = draw(st.lists(own | st.sampled_from(pool), max_size=5))
    head = chain.data[: chain.head]
    if draw(st.booleans()):  # steps per segment retagged to agree with another cut of the run
        head = head[:-4] + draw(st.sampled_from([1, 2, 3])).to_bytes(4, "little")
    body = b"".join(_honest()[n].segment_bytes(k) for n, k in order)
    steps = int.from_bytes(head[-4:], "little")
    return Mutant("segments", f"chain head (S={steps}) + {order}", head + body)


@st.composite
def splice_mutants(draw):
    a_name, b_name = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=2, unique=True))
    a, b = _honest()[a_name], _honest()[b_name]
    how = draw(st.sampled_from(["head + segments", "at boundaries", "at one offset", "at random offsets"]))
    if how == "head + segments":
        i, j = a.head, b.head
    elif how == "at boundaries":
        i, j = draw(st.sampled_from(a.boundaries)), draw(st.sampled_from(b.boundaries))
    elif how == "at one offset":
        i = j = draw(st.sampled_from([k for k in a.boundaries if k <= len(b.data)]))
    else:
        i, j = draw(st.integers(0, len(a.data))), draw(st.integers(0, len(b.data)))
    return Mutant("splice", f"{a_name}[:{i}] + {b_name}[{j}:] ({how})", a.data[:i] + b.data[j:])


@st.composite
def byte_mutants(draw):
    h = draw(bundles())
    data, ops = bytearray(h.data), []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "flip", "insert", "delete", "overwrite", "truncate", "append"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            mask = draw(st.integers(1, 255))
            data[at] ^= mask
            ops.append(f"flip {at} ^{mask:#x}")
        elif op == "insert":
            new = draw(st.binary(min_size=1, max_size=64))
            data[at:at] = new
            ops.append(f"insert {len(new)} at {at}")
        elif op == "delete":
            n = draw(st.integers(1, 64))
            del data[at : at + n]
            ops.append(f"delete {n} at {at}")
        elif op == "overwrite":
            new = draw(st.binary(min_size=1, max_size=64))
            data[at : at + len(new)] = new
            ops.append(f"overwrite {len(new)} at {at}")
        elif op == "truncate":
            del data[at:]
            ops.append(f"truncate to {at}")
        else:
            new = draw(st.binary(min_size=1, max_size=64))
            data += new
            ops.append(f"append {len(new)}")
    return Mutant("bytes", f"{h.name} {', '.join(ops)}", bytes(data))


# --- positive controls -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_honest_bundles_verify(honest, name):
    h = honest[name]
    report, peak = _measured(verify_bundle, h.data)
    assert report.accepted, report.reason
    assert peak < MEMORY_BOUND // 8, f"honest verification peaked at {peak >> 20} MiB: revisit MEMORY_BOUND"
    assert h.peak < MEMORY_BOUND // 8


@pytest.mark.parametrize("name", NAMES)
def test_recorder_located_every_scalar_and_point(honest, name):
    """The mutations hit real encodings: >100 of each, all well-formed, non-overlapping, and
    together exactly the public commitments and proof bodies (these hold nothing else)."""
    h = honest[name]
    assert len(h.scalars) > 100 and len(h.points) > 100
    for at in h.scalars:
        assert fr.from_bytes(h.data[at : at + SCALAR_BYTES]) < R
    for at in h.points:
        parse_compressed(h.data[at : at + POINT_BYTES])
    spans = sorted([(at, SCALAR_BYTES) for at in h.scalars] + [(at, POINT_BYTES) for at in h.points])
    assert all(a + n <= b for (a, n), (b, _) in itertools.pairwise(spans)), "overlapping reads"
    body = sum(end - start - 8 for start, end in h.segments)  # all but the u64 length fields
    assert sum(n for _, n in spans) == body
    assert h.head <= spans[0][0] and spans[-1][0] + spans[-1][1] == len(h.data)
    for start, end in h.segments:  # each segment opens with its public commitments
        assert start in h.points


def test_special_points_are_what_they_claim():
    curve = get_curve("blst")
    special = _special_points()
    assert curve.decode(special["identity"]) == curve.identity()
    assert curve.decode(special["generator"]) != curve.identity()
    reasons = {}
    for name, encoding in special.items():
        if name in ("identity", "generator"):
            continue
        with pytest.raises(VerifyError) as err:
            curve.decode(encoding)
        reasons[name] = str(err.value)
    assert any("not in the prime-order subgroup" in r for n, r in reasons.items() if "outside" in n)
    assert any("not on the curve" in r for n, r in reasons.items() if "off the curve" in n)


def test_splitting_reassembles_the_bundles(honest):
    for h in honest.values():
        assert h.data[: h.head] + b"".join(h.segment_bytes(k) for k in range(len(h.segments))) == h.data
    assert len(honest["chain"].segments) == 3


# --- the fuzz tests ----------------------------------------------------------------------


@FUZZ
@given(header_mutants())
def test_fuzz_header_fields(mutant):
    check_rejected(mutant)


@FUZZ
@given(length_mutants())
def test_fuzz_length_fields(mutant):
    check_rejected(mutant)


@FUZZ
@given(recipe_mutants())
def test_fuzz_canonical_recipe_edits(mutant):
    check_rejected(mutant)


@FUZZ
@given(noncanonical_mutants())
def test_fuzz_noncanonical_recipe_json(mutant):
    report = check_rejected(mutant)
    assert report.reason.startswith("recipe rejected"), report.reason


@FUZZ
@given(scalar_mutants())
def test_fuzz_scalar_encodings(mutant):
    check_rejected(mutant)


@FUZZ
@given(point_mutants())
def test_fuzz_point_encodings(mutant):
    check_rejected(mutant)


@FUZZ
@given(segment_mutants())
def test_fuzz_segment_order(mutant):
    check_rejected(mutant)


@FUZZ
@given(splice_mutants())
def test_fuzz_splices(mutant):
    check_rejected(mutant)


@FUZZ
@given(byte_mutants())
def test_fuzz_random_bytes(mutant):
    check_rejected(mutant)


# --- findings, kept as regression tests -------------------------------------------------


def test_deeply_nested_recipe_raises_verify_error(honest):
    """Found by the nesting mutation: ``Recipe.from_canonical_json`` caught ValueError from
    ``json.loads`` but not the RecursionError of nesting deeper than the interpreter's
    recursion limit (this recipe is 200 KB, far under MAX_CANONICAL_BYTES), so parse_bundle
    raised it. Worse, py_ecc raises the recursion limit to 100,000 on import, and then json's
    C decoder overflows the C stack: a segmentation fault of the whole process (seen in the
    full suite). The depth is now bounded before json.loads sees the bytes."""
    import py_ecc  # noqa: F401  (the recursion limit it sets: the case that crashed)

    h = honest["clear"]
    raw = h.recipe.replace(b'"seed":3', b'"seed":' + b"[" * 100_000 + b"]" * 100_000, 1)
    assert raw != h.recipe
    with pytest.raises(VerifyError, match="recipe rejected: recipe: JSON nested deeper than 4"):
        parse_bundle(_with_recipe(h, raw))
