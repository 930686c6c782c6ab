"""``zktrain demo``: the most complete end-to-end run available on the embedded default.

Until training proofs land (issue 4), the demo exercises the proof core on the digits data:
a first layer's pre-activations of a fixed-point model, ``Z = X W^T`` for one batch, proven at a
random point by a matmul sumcheck (Thaler's reduction of a matrix product to one inner-product
sumcheck), batched with a booleanity zero-check of ReLU sign bits; the proof is serialized,
parsed back and verified, and a tampered copy is rejected.
"""

from __future__ import annotations

import time

import numpy as np

from prover.backends import get_backend
from prover.sumcheck import Instance, product_instance, prove_sumcheck
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.polynomial import eq_table, mle_evaluate
from verifier.sumcheck import SumcheckProof, Term, verify_sumcheck
from verifier.transcript import Transcript

DOMAIN = b"zktrain/demo/v1"


def _digits_batch(batch: int, frac_bits: int) -> np.ndarray:
    from sklearn.datasets import load_digits

    x = load_digits().data[:batch] / 16.0
    return np.round(x * (1 << frac_bits)).astype(np.int64)


def _log2(n: int) -> int:
    if n < 1 or n & (n - 1):
        raise ValueError(f"demo sizes must be powers of two, got {n}")
    return n.bit_length() - 1


def run_demo(batch: int = 64, width: int = 128, frac_bits: int = 16) -> int:
    backend = get_backend("cpu")
    rng = np.random.default_rng(0)
    x = _digits_batch(batch, frac_bits)  # [B, 64] at scale 2^R
    w = rng.integers(-(1 << 14), 1 << 14, size=(width, x.shape[1]), dtype=np.int64)
    z = x @ w.T  # [B, width], exact in int64 (|z| < 64 * 2^16 * 2^14 = 2^36)
    signs = (z <= 0).astype(np.int64)
    nb, nw = _log2(batch), _log2(width)
    print(f"digits batch {batch}x{x.shape[1]}, layer width {width}: Z = X W^T has {z.size} entries")

    # The verifier's random point (u_w over Z's columns, u_b over its rows), little-endian.
    t0 = time.perf_counter()
    transcript = Transcript(DOMAIN)
    transcript.absorb_bytes(b"shape", np.array([batch, width, x.shape[1]], "<u8").tobytes())
    u = transcript.challenge_scalars(b"point", nw + nb)
    u_w, u_b = u[:nw], u[nw:]
    claim_z = mle_evaluate(backend.to_ints(backend.from_int64(z.reshape(-1))), u)
    # Z(u_w, u_b) = sum_i X(i, u_b) W(i, u_w): fold X and W at the row points, then one sumcheck.
    x_folded = backend.from_ints(_partial_rows(x, u_b))
    w_folded = backend.from_ints(_partial_rows(w, u_w))
    bits = backend.from_int64(signs.reshape(-1))
    eq_u = backend.from_ints(eq_table(u))
    instances = [
        product_instance(x_folded, w_folded),
        Instance([eq_u, bits], (Term(1, (0, 1, 1)), Term(R - 1, (0, 1)))),
    ]
    proof, _ = prove_sumcheck(transcript, backend, instances, [claim_z, 0])
    data = proof.to_bytes()
    prove_s = time.perf_counter() - t0
    print(f"proved the matmul claim and {signs.size} sign bits in {prove_s:.2f} s; proof {len(data)} bytes")

    shapes = [inst.shape(backend) for inst in instances]

    def verify(blob: bytes) -> None:
        t = Transcript(DOMAIN)
        t.absorb_bytes(b"shape", np.array([batch, width, x.shape[1]], "<u8").tobytes())
        v = t.challenge_scalars(b"point", nw + nb)
        evals = verify_sumcheck(t, shapes, [claim_z, 0], SumcheckProof.from_bytes(blob, shapes))
        # The eq factor is public: the verifier checks it itself. The other evaluations would be
        # opened against Hyrax commitments to X, W and the signs (issue 3); here they are
        # checked against the data directly, which only a demo may do.
        (eq_claim, bits_claim) = evals[1]
        if eq_claim.value != mle_evaluate(eq_table(v), eq_claim.point):
            raise VerifyError("eq evaluation is wrong")
        if evals[0][0].value != mle_evaluate(_partial_rows(x, v[nw:]), evals[0][0].point):
            raise VerifyError("X evaluation is wrong")
        if evals[0][1].value != mle_evaluate(_partial_rows(w, v[:nw]), evals[0][1].point):
            raise VerifyError("W evaluation is wrong")
        if bits_claim.value != mle_evaluate([int(s) for s in signs.reshape(-1)], bits_claim.point):
            raise VerifyError("sign-bit evaluation is wrong")

    t0 = time.perf_counter()
    verify(data)
    print(f"verify: ACCEPT ({time.perf_counter() - t0:.2f} s)")
    tampered = bytearray(data)
    tampered[40] ^= 1
    try:
        verify(bytes(tampered))
    except VerifyError as err:
        print(f"tampered proof: REJECT ({err})")
    else:
        print("tampered proof was accepted: this is a bug")
        return 1
    return 0


def _partial_rows(m: np.ndarray, u_rows: list[int]) -> list[int]:
    """sum_r eq(u_rows, r) M[r, :]: the matrix's MLE with its row variables bound to u_rows."""
    eq = eq_table(u_rows)
    rows = [[int(v) for v in row] for row in m]
    return [sum(e * row[c] for e, row in zip(eq, rows)) % R for c in range(m.shape[1])]
