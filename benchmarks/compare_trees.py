"""Run ``bench_training.py`` on two revisions side by side, alternately, in one script.

Absolute times on the shared 2-core VM drift 2x from day to day, so a change is measured
against its baseline in the same run. Each revision is checked out as a ``git worktree``
under a temporary folder (sharing this checkout's ``.venv``), warmed by one short run so that
no measured configuration pays numba's compilation of the kernels it changed, and then the
configurations run in turn, A, B, A, B, ..., each in a fresh process (``bench_training.py``'s
own child per configuration). Rows print as they come, then one table of all of them.

    python benchmarks/compare_trees.py main HEAD --rounds 2 -- \\
        --widths 3072,1024,1024,1024,1024,1024,1024,1024,1024,10 --data synthetic --steps 8 --modes clear

Everything after ``--`` goes to ``bench_training.py`` as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import COLUMNS, table  # noqa: E402  (this folder's module)

#: The warm-up run: digits, one step, one segment; it compiles or loads every kernel it uses.
WARM = ["--steps", "1", "--modes", "clear", "zk"]


def _worktree(rev: str, parent: Path) -> Path:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    tree = parent / commit
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree), commit],
                   check=True, stdout=subprocess.DEVNULL)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def _bench(tree: Path, args: list[str], json_out: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(tree / "benchmarks" / "bench_training.py"),
                    *args, "--json", str(json_out)], check=True, env=env, cwd=tree)
    return json.loads(json_out.read_text())


def main() -> None:
    argv = sys.argv[1:]
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", help="the revision to compare against (main, a commit)")
    parser.add_argument("change", help="the revision measured (HEAD, a commit)")
    parser.add_argument("--rounds", type=int, default=1, help="A, B alternations")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-up runs")
    args = parser.parse_args(own)

    rows = []
    with tempfile.TemporaryDirectory(prefix="zktrain-compare-") as tmp:
        parent = Path(tmp)
        trees = {}
        try:
            for rev in (args.baseline, args.change):
                trees[rev] = _worktree(rev, parent)
            if not args.no_warm:
                for rev, tree in trees.items():
                    print(f"warming {rev} ({tree.name})", flush=True)
                    _bench(tree, WARM, parent / "warm.json")
            for k in range(args.rounds):
                for rev, tree in trees.items():
                    got = _bench(tree, bench_args, parent / "rows.json")
                    for row in got:
                        row["recipe"] = f"{rev} ({tree.name})"
                    rows += got
                    print(f"round {k + 1}: {rev} done", flush=True)
        finally:
            for tree in trees.values():
                (tree / ".venv").unlink(missing_ok=True)
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    print(f"(the recipe column names the revision; columns: {', '.join(name for name, _ in COLUMNS)})")
    print(table(rows))


if __name__ == "__main__":
    main()
