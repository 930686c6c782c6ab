"""Mutation pass over the verifier: every check removed or weakened in turn must fail a test.

"Every verifier check has a test that fails without it" (DESIGN section 10). This script
finds the checks of ``verifier/`` by their shape in the syntax tree, makes one mutant per
check (the source with that one check deleted or weakened), runs the verifier's tests against
each mutant in a scratch copy of the repository, and reports the first test that fails, or
SURVIVED. A survivor is a check no test needs: a missing attack test, or a check that cannot
be reached, which the code must say (a ``# mutation: unreachable (why; pinning test)``
comment on the check's first line) and a test must pin.

Mutation operators (``KINDS``):

  remove    ``if <cond>: ... raise E(...)``     -> the condition becomes False
            ``raise VerifyError(...)`` elsewhere -> ``pass``
            ``_require(<ok>, ...)``              -> ``_require(True, ...)``
            ``return <comparison>`` in ``equal`` / ``except VerifyError: return False``
                                                 -> ``return True`` (a verdict)
  weaken    ``if a or b: raise``                 -> each disjunct dropped in turn
  boundary  a guard's ``>=`` -> ``>``, ``<=`` -> ``<``, ``a > b`` -> ``a > b + 1``,
            ``a < b`` -> ``a + 1 < b`` (the guard fires on one value less)
  absorb    a transcript ``absorb_*`` or ``domain_separate`` call -> deleted (a statement,
            message or separator the Fiat-Shamir challenges no longer depend on)
  handoff   a walk's hand-off, as a statement -> deleted: ``require_equal(a, b, ...)`` (the
            comparison), ``slice_value(...)`` (a claim tied to its committed slots), and
            ``ledger.add(...)`` (a claim passed on to the reduction or opening that checks
            it). Gadget wirings are made of these; the other operators do not see them, and
            deleting one leaves a claim nobody checks
  claim     a reduction's ``finish`` returning a list of ``Claim(...)`` -> each claim dropped
            in turn: the table evaluation it carries is then checked by nobody (an attack that
            sends honest evaluations cannot notice; one that lies in that table must)

Guards raising any exception count (VerifyError, and the ValueError / TypeError with which
the verifier's parsing refuses out-of-bound input before it allocates).

Usage:
  python tools/mutation.py --list                     # the mutants, nothing run
  python tools/mutation.py [--jobs 2] [--only PATTERN] [--write SECURITY.md] [--no-baseline]
  python tools/mutation.py --cached-only --write SECURITY.md   # the table from the cache alone
The table (check, first failing test) is printed as Markdown; ``--write`` replaces the part of
the file between the markers ``<!-- mutation-table:begin -->`` and ``<!-- mutation-table:end -->``.
Each mutant first runs its *suspects* (``suspects``: the tests that quote the message of the
check it removes, the usual killers, in seconds), then ``pytest -x`` on the test files of
``TESTS`` for its module (its own tests first), in a copy of the repository per worker; a
survivor runs them all. A full pass takes one to two hours on 2 cores.
Killed mutants are cached (``.mutation-cache.json``, ``Cache``) while their file and the test
file that killed them are unchanged, so a pass after an edit reruns what the edit touched.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("remove", "weaken", "boundary", "absorb", "handoff", "claim")
ABSORBS = {"absorb_bytes", "absorb_scalar", "absorb_scalars", "absorb_point", "absorb_points", "domain_separate"}
HANDOFFS = {"require_equal", "slice_value"}  # and ``<...>.ledger.add``
UNREACHABLE = re.compile(r"#\s*mutation:\s*unreachable\s*\((.*)\)")
BEGIN, END = "<!-- mutation-table:begin -->", "<!-- mutation-table:end -->"

# The tests that exercise the verifier, specific ones first per module (pytest -x stops at the
# first failure, so a killed mutant costs little; a survivor runs them all). The fuzzer
# (tests/test_fuzz_bundle.py) is left out: every check must be needed by a named test.
PROTOCOL = [
    "tests/test_training_proof.py", "tests/test_logup.py", "tests/test_segments.py",
    "tests/test_committed_init.py", "tests/test_bundle_cli.py", "tests/test_verifier_bounds.py",
    "tests/test_data_binding.py", "tests/test_inference.py",
]
TESTS = {
    "verifier/field.py": ["tests/test_field.py", "tests/test_transcript.py"],
    "verifier/transcript.py": ["tests/test_transcript.py"],
    "verifier/values.py": ["tests/test_gadgets.py", "tests/test_zk_sumcheck.py"],
    "verifier/encoding.py": ["tests/test_encoding.py", "tests/test_curve.py", "tests/test_hyrax.py", "tests/test_nizk.py"],
    "verifier/curve.py": ["tests/test_curve.py", "tests/test_hash_to_curve.py"],
    "verifier/msm.py": ["tests/test_curve.py"],
    "verifier/hash_to_curve.py": ["tests/test_hash_to_curve.py", "tests/test_curve.py"],
    "verifier/polynomial.py": ["tests/test_sumcheck.py", "tests/test_gadgets.py"],
    "verifier/sumcheck.py": ["tests/test_sumcheck.py", "tests/test_gadgets.py"],
    "verifier/zk_sumcheck.py": ["tests/test_zk_sumcheck.py"],
    "verifier/phase.py": ["tests/test_gadgets.py", "tests/test_zk_sumcheck.py"],
    "verifier/gadgets.py": ["tests/test_gadgets.py"],
    "verifier/hyrax.py": ["tests/test_hyrax.py", "tests/test_ipa.py"],
    "verifier/nizk/": ["tests/test_nizk.py", "tests/test_ipa.py", "tests/test_zk_sumcheck.py"],
    "verifier/logup.py": ["tests/test_logup.py", "tests/test_lookup_tables.py"],
    "verifier/exp.py": ["tests/test_lookup_tables.py", "tests/test_ce_proof.py"],
    "verifier/division.py": ["tests/test_division.py", "tests/test_ce_proof.py"],
    "verifier/rowmax.py": ["tests/test_rowmax.py", "tests/test_ce_proof.py"],
    "verifier/losses.py": ["tests/test_ce_proof.py", "tests/test_training_proof.py"],
    "verifier/bundle.py": ["tests/test_bundle_cli.py", "tests/test_verifier_bounds.py", "tests/test_segments.py",
                           "tests/test_data_binding.py", "tests/test_model_artifact.py"],
    "verifier/data.py": ["tests/test_data_files.py", "tests/test_data_binding.py"],
    "verifier/model.py": ["tests/test_model_artifact.py"],
    "verifier/disclosure.py": ["tests/test_model_artifact.py", "tests/test_inference.py"],
    "verifier/inference.py": ["tests/test_inference.py", "tests/test_ghost_bn_proof.py"],
    "verifier/inference_bundle.py": ["tests/test_inference.py"],
    "verifier/inference_inputs.py": ["tests/test_inference.py"],
    "verifier/walk.py": ["tests/test_walk.py", "tests/test_training_proof.py", "tests/test_inference.py"],
    "verifier/zk_training.py": ["tests/test_batched_verify.py", "tests/test_walk.py", "tests/test_training_proof.py",
                               "tests/test_inference.py"],
    "verifier/training.py": ["tests/test_training_proof.py", "tests/test_ce_proof.py", "tests/test_momentum_proof.py",
                             "tests/test_lars_proof.py", "tests/test_lamb_proof.py"],
    "verifier/optimizers.py": ["tests/test_momentum_proof.py", "tests/test_lars_proof.py", "tests/test_lamb_proof.py",
                               "tests/test_training_proof.py", "tests/test_ghost_bn_momentum.py",
                               "tests/test_ghost_bn_lars.py", "tests/test_ghost_bn_lamb.py"],
    "verifier/sqrt.py": ["tests/test_sqrt.py", "tests/test_trust.py", "tests/test_ghost_bn_step.py"],
    "verifier/trust.py": ["tests/test_trust.py", "tests/test_lars_proof.py"],
    "verifier/lamb_step.py": ["tests/test_lamb_step.py", "tests/test_lamb_proof.py"],
    "verifier/ghost_bn_step.py": ["tests/test_ghost_bn_step.py", "tests/test_ghost_bn_proof.py"],
    "verifier/normalization.py": ["tests/test_ghost_bn_proof.py", "tests/test_ghost_bn_momentum.py",
                                  "tests/test_ghost_bn_lars.py", "tests/test_ghost_bn_lamb.py"],
    "verifier/ghost_bn_eval.py": ["tests/test_ghost_bn_eval.py", "tests/test_ghost_bn_proof.py"],
    "verifier/zero_check.py": ["tests/test_zero_check.py", "tests/test_trust.py", "tests/test_lamb_step.py",
                               "tests/test_ghost_bn_step.py"],
    "verifier/norms.py": ["tests/test_norms.py"],
}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to ROOT
    line: int
    kind: str
    what: str  # the check, in a few words
    start: int  # byte offsets of the replaced span in the file
    end: int
    replacement: str
    unreachable: str | None = None
    #: literal fragments of the rejection message the check raises (``suspects`` looks for
    #: the tests that assert it)
    message: tuple[str, ...] = ()

    @property
    def ident(self) -> str:
        return f"{self.path}:{self.line} {self.kind}"

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement.encode() + source[self.end :]


def _offsets(source: bytes) -> list[int]:
    starts = [0]
    for i, byte in enumerate(source):
        if byte == 0x0A:
            starts.append(i + 1)
    return starts


def _span(starts: list[int], node: ast.AST) -> tuple[int, int]:
    return starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset


def _raises(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Raise) and stmt.exc is not None


def _raised_name(stmt: ast.Raise) -> str:
    exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
    return exc.id if isinstance(exc, ast.Name) else ast.unparse(exc)


def _fragments(node: ast.AST | None) -> tuple[str, ...]:
    """The literal parts of a message (a str or an f-string), each of at least 10 characters."""
    parts = [node] if isinstance(node, ast.Constant) else node.values if isinstance(node, ast.JoinedStr) else []
    out = [p.value.strip() for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)]
    return tuple(f for f in out if len(f) >= 10)


def _message(stmt: ast.AST | None) -> tuple[str, ...]:
    """The fragments of the message of ``raise E(msg)`` or ``_require(ok, msg)``."""
    call = stmt.exc if isinstance(stmt, ast.Raise) else stmt
    if isinstance(call, ast.Call):
        args = call.args[1:] if isinstance(stmt, ast.Call) else call.args[:1]
        return tuple(f for a in args for f in _fragments(a))
    return ()


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, source: bytes):
        self.path, self.source = path, source
        self.starts = _offsets(source)
        self.lines = source.decode().splitlines()
        self.out: list[Mutant] = []
        self.guarded: set[int] = set()  # ids of raises whose guard the If rule mutates
        self.function: list[str] = []

    def _segment(self, node: ast.AST) -> str:
        start, end = _span(self.starts, node)
        return self.source[start:end].decode()

    def _add(self, node: ast.AST, kind: str, what: str, replacement: str, span_node: ast.AST | None = None,
             message: tuple[str, ...] = ()) -> None:
        start, end = _span(self.starts, span_node or node)
        line = self.lines[node.lineno - 1]
        marker = UNREACHABLE.search(line)
        self.out.append(Mutant(self.path, node.lineno, kind, _short(what), start, end, replacement,
                               marker.group(1) if marker else None, message))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    def visit_If(self, node: ast.If) -> None:
        raising = [s for s in node.body if _raises(s)]
        if raising:
            for stmt in raising:
                self.guarded.add(id(stmt))
            exc = _raised_name(raising[0])
            cond = self._segment(node.test)
            message = _message(raising[0])
            self._add(node, "remove", f"{exc} if {cond}", "False", node.test, message)
            operands = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.Or) else [node.test]
            if len(operands) > 1:
                for i, op in enumerate(operands):
                    rest = " or ".join(f"({self._segment(o)})" for j, o in enumerate(operands) if j != i)
                    self._add(op, "weaken", f"drop {self._segment(op)} from {exc} if {cond}", rest, node.test,
                              message)
            for op in operands:
                self._boundary(op, exc, message)
        self.generic_visit(node)

    def _boundary(self, op: ast.expr, exc: str, message: tuple[str, ...]) -> None:
        if not (isinstance(op, ast.Compare) and len(op.ops) == 1):
            return
        left, right = self._segment(op.left), self._segment(op.comparators[0])
        sign = type(op.ops[0])
        weaker = {
            ast.GtE: f"({left}) > ({right})",
            ast.LtE: f"({left}) < ({right})",
            ast.Gt: f"({left}) > ({right}) + 1",
            ast.Lt: f"({left}) + 1 < ({right})",
        }.get(sign)
        if weaker:
            self._add(op, "boundary", f"{exc} if {self._segment(op)} -> {weaker}", weaker, message=message)

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None and id(node) not in self.guarded and _raised_name(node) == "VerifyError":
            self._add(node, "remove", f"raise in {self.function[-1] if self.function else '<module>'}: "
                      f"{self._segment(node)}", "pass", message=_message(node))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "_require" and node.args:
            self._add(node.args[0], "remove", f"_require({self._segment(node.args[0])}, ...)", "True",
                      message=_message(node))
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            attr, owner = call.func.attr, call.func.value
            if attr in ABSORBS:
                self._add(node, "absorb", self._segment(node), "pass")
            elif attr in HANDOFFS or (attr == "add" and isinstance(owner, ast.Attribute) and owner.attr == "ledger"):
                self._add(node, "handoff", self._segment(node), "pass", message=_message(call) if attr == "require_equal" else ())
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if self.function and self.function[-1] == "finish" and isinstance(node.value, ast.List):
            claims = node.value.elts
            if claims and all(isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "Claim"
                              for e in claims):
                for i, claim in enumerate(claims):
                    rest = ", ".join(self._segment(o) for j, o in enumerate(claims) if j != i)
                    self._add(claim, "claim", f"finish drops {self._segment(claim)}", f"[{rest}]", node.value)
        if self.function and self.function[-1] == "equal" and node.value is not None:
            verdict = isinstance(node.value, ast.Compare) or (
                isinstance(node.value, ast.Constant) and node.value.value is False
            )
            if verdict:
                self._add(node.value, "remove", f"equal: return {self._segment(node.value)}", "True")
        self.generic_visit(node)


def find_mutants(paths: list[Path]) -> list[Mutant]:
    out = []
    for path in paths:
        source = path.read_bytes()
        finder = _Finder(str(path.relative_to(ROOT)), source)
        finder.visit(ast.parse(source))
        out += sorted(finder.out, key=lambda m: (m.start, m.kind))
    return out


def tests_for(path: str) -> list[str]:
    own = next((tests for prefix, tests in TESTS.items() if path.startswith(prefix)), [])
    return list(dict.fromkeys(own + PROTOCOL))


# --- running ------------------------------------------------------------------------------


def _worker_root(index: int, base: Path) -> Path:
    """A copy of the repository (code and tests; the virtual environment is shared)."""
    root = base / f"worker{index}"
    if not root.exists():
        ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.zkp", ".pytest_cache", "out")
        shutil.copytree(ROOT, root, ignore=ignore)
    return root


#: A suspects run that outlives this has met a mutant that unbounds the work the removed check
#: bounded (a generator vector of any length, say): the test cannot pass, so the mutant is killed.
SUSPECT_TIMEOUT_S = 240


def _pytest(root: Path, python: str, tests: list[str], timeout: float | None = None) -> tuple[str, float]:
    """Run the tests with -x in ``root``: the first failing test's id, or "" if all pass."""
    start = time.perf_counter()
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", *tests]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"{tests[0]} (timed out after {timeout:.0f} s: unbounded work)", time.perf_counter() - start
    if proc.returncode == 0:
        return "", time.perf_counter() - start
    failed = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", proc.stdout, re.M)
    return (failed.group(1) if failed else f"pytest exit {proc.returncode}"), time.perf_counter() - start


@functools.lru_cache(maxsize=None)
def _test_functions(path: Path) -> list[tuple[str, str]]:
    """(node id, source with decorators) of every test function of a test file, methods of
    Test classes included, and (name, source) of every other top-level statement."""
    source = path.read_text()
    out = []
    for node in ast.parse(source).body:
        segment = ast.get_source_segment(source, node) or ""
        decorators = "".join(ast.get_source_segment(source, d) or "" for d in getattr(node, "decorator_list", []))
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            out += [(f"{path.name}::{node.name}::{m.name}", decorators + (ast.get_source_segment(source, m) or ""))
                    for m in node.body if isinstance(m, ast.FunctionDef) and m.name.startswith("test")]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            out.append((f"{path.name}::{node.name}", decorators + segment))
        else:
            names = [t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
            name = getattr(node, "name", None) or (names[0] if names else "")
            out.append((name, segment))
    return out


def _mentions(segment: str, fragments: tuple[str, ...]) -> bool:
    """Whether a test's strings quote a fragment of the message (or a piece of one, as a
    ``match=`` pattern does; regex escapes removed)."""
    for text in re.findall(r"""(?:"([^"\n]{10,})"|'([^'\n]{10,})')""", segment):
        quoted = (text[0] or text[1]).replace("\\", "").strip()
        if len(quoted) >= 10 and any(quoted in f or f in quoted for f in fragments):
            return True
    return False


def suspects(mutant: Mutant, root: Path, limit: int = 24) -> list[str]:
    """The tests of the mutant's files that assert its check's message: directly, or through a
    module-level table of cases (a parametrization) or helper that quotes it. Run first, they
    kill most mutants in seconds instead of a whole file list's fixtures."""
    if not mutant.message:
        return []
    found: list[str] = []
    for test_file in tests_for(mutant.path):
        entries = _test_functions(root / test_file)
        tables = {name for name, seg in entries if "::" not in name and name and _mentions(seg, mutant.message)}
        for name, seg in entries:
            if "::" in name and (_mentions(seg, mutant.message) or any(re.search(rf"\b{re.escape(t)}\b", seg)
                                                                       for t in tables)):
                found.append(f"{test_file}::{name.split('::', 1)[1]}")
    return found[:limit]


def run_mutant(mutant: Mutant, root: Path, python: str) -> tuple[str, float]:
    """The first failing test's id (the mutant is killed) or "" (it survived): the suspects
    first, then every test of the mutant's module (a survivor runs them all)."""
    target = root / mutant.path
    original = target.read_bytes()
    target.write_bytes(mutant.apply(original))
    try:
        first = suspects(mutant, root)
        spent = 0.0
        if first:
            killer, spent = _pytest(root, python, first, SUSPECT_TIMEOUT_S)
            if killer:
                return killer, spent
        killer, seconds = _pytest(root, python, tests_for(mutant.path))
        return killer, spent + seconds
    finally:
        target.write_bytes(original)


def baseline(root: Path, python: str) -> None:
    """The unmutated copy must pass every test a mutant runs (and warms numba's cache there)."""
    tests = list(dict.fromkeys(t for prefix in TESTS for t in tests_for(prefix)))
    failed, seconds = _pytest(root, python, tests)
    if failed:
        raise SystemExit(f"the unmutated verifier fails {failed}: fix that before a mutation pass")
    print(f"baseline passes in {root} ({seconds:.0f} s)", file=sys.stderr, flush=True)


class Cache:
    """Results of earlier passes, reused while nothing they depend on changed: a killed mutant
    is keyed by its file's content and its edit, and kept only while the test file that
    killed it is unchanged too (a survivor is never cached: it runs again). Written after
    every mutant, so an interrupted pass loses nothing."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, dict] = json.loads(path.read_text()) if path and path.exists() else {}

    @staticmethod
    def _sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else ""

    def key(self, m: Mutant) -> str:
        return f"{m.path}:{self._sha(ROOT / m.path)}:{m.start}:{m.end}:{m.replacement}"

    def get(self, m: Mutant) -> str | None:
        entry = self.entries.get(self.key(m))
        if entry and self._sha(ROOT / entry["killer"].split("::")[0]) == entry["test_sha"]:
            return entry["killer"]
        return None

    def put(self, m: Mutant, killer: str) -> None:
        if self.path is None or not killer or "::" not in killer:
            return
        self.entries[self.key(m)] = {"killer": killer, "test_sha": self._sha(ROOT / killer.split("::")[0])}
        self.path.write_text(json.dumps(self.entries, indent=0, sort_keys=True))


def table(results: list[tuple[Mutant, str]]) -> str:
    rows = ["| check | mutation | caught by |", "|---|---|---|"]
    for m, verdict in results:
        what = m.what.replace("|", "\\|")
        rows.append(f"| `{m.path}:{m.line}` `{what}` | {m.kind} | {verdict.replace('|', '/')} |")
    return "\n".join(rows)


def write_table(path: Path, text: str) -> None:
    doc = path.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", help="regex on 'path:line kind' selecting mutants")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write", type=Path, help="replace the table between the markers of this file")
    parser.add_argument("--cache", type=Path, default=ROOT / ".mutation-cache.json",
                        help="earlier results to reuse (Cache); --fresh ignores it")
    parser.add_argument("--fresh", action="store_true", help="run every mutant, whatever the cache holds")
    parser.add_argument("--cached-only", action="store_true",
                        help="run nothing: the table from the cache, the other mutants marked 'not run'")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of every test file (when the suite has just passed on this tree)")
    args = parser.parse_args(argv)

    mutants = find_mutants(sorted((ROOT / "verifier").rglob("*.py")))
    if args.only:
        mutants = [m for m in mutants if re.search(args.only, m.ident)]
    if args.list:
        for m in mutants:
            note = f"  [unreachable: {m.unreachable}]" if m.unreachable else ""
            print(f"{m.ident:40s} {m.what}{note}")
        print(f"{len(mutants)} mutants", file=sys.stderr)
        return 0

    python = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    cache = Cache(args.cache)
    runnable = [m for m in mutants if not m.unreachable]
    results: dict[Mutant, str] = {m: f"unreachable: {m.unreachable}" for m in mutants if m.unreachable}
    if not args.fresh:
        results.update({m: f"`{killer}`" for m in runnable if (killer := cache.get(m))})
    todo = [m for m in runnable if m not in results]
    if args.cached_only:
        results.update({m: "not run" for m in todo})
        todo = []
    base = Path(tempfile.mkdtemp(prefix="zktrain-mutation-"))
    roots = [_worker_root(i, base) for i in range(args.jobs)] if todo else []
    print(f"{len(todo)} mutants to run ({len(runnable) - len(todo)} killed in earlier passes, unchanged since) "
          f"on {args.jobs} workers under {base}", file=sys.stderr)
    started = time.perf_counter()
    try:
        if not args.no_baseline:
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                list(pool.map(lambda root: baseline(root, python), roots))
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            free = list(roots)
            futures = {}
            pending = list(todo)
            while pending or futures:
                while pending and free:
                    m, root = pending.pop(0), free.pop()
                    futures[pool.submit(run_mutant, m, root, python)] = (m, root)
                done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    m, root = futures.pop(future)
                    free.append(root)
                    killer, seconds = future.result()
                    results[m] = f"`{killer}`" if killer else "**SURVIVED**"
                    cache.put(m, killer)
                    print(f"{len(results):4d}/{len(mutants)} {m.ident:40s} {results[m]} ({seconds:.0f} s)",
                          file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ordered = [(m, results[m]) for m in mutants]
    survivors = sum(1 for _, v in ordered if v == "**SURVIVED**")
    not_run = sum(1 for _, v in ordered if v == "not run")
    summary = (f"{len(mutants)} mutants: {len(runnable) - survivors - not_run} killed, "
               f"{len(mutants) - len(runnable)} unreachable (pinned), {survivors} survived"
               f"{f', {not_run} not run' if not_run else ''}; "
               f"{(time.perf_counter() - started) / 60:.0f} min on {args.jobs} workers.")
    text = table(ordered) + "\n\n" + summary
    print(text)
    if args.write:
        write_table(args.write, text)
    return 1 if survivors or not_run else 0


if __name__ == "__main__":
    sys.exit(main())
