"""The verifier stands alone (DESIGN section 2): importing it, down to the bundle and the
training walk, loads neither torch nor numba nor anything from prover/ or zktrain/."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import verifier, verifier.bundle, verifier.training, verifier.hyrax, verifier.zk_sumcheck, verifier.model, verifier.cli
import verifier.walk, verifier.inference, verifier.inference_bundle, verifier.inference_inputs, verifier.disclosure
import circuits.recipe, circuits.semantics, circuits.mlp, circuits.inference
print(",".join(sorted({m.split('.')[0] for m in sys.modules} & {"prover", "zktrain", "torch", "numba", "cupy"})))
"""


def test_verifier_imports_nothing_heavy():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"verifier pulled in: {out.stdout.strip()}"
