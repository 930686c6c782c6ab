"""Shared fixtures: one test body runs over every prover backend (py_ecc style)."""

from __future__ import annotations

import random

import pytest

from prover.backends.cuda import runtime as _cuda_runtime

# The cuda backend's tests run on numba's CUDA simulator where this machine has no NVIDIA
# device; numba binds numba.cuda to the simulator or the driver when it is first imported, so
# the choice is made here, before any test imports it (NUMBA_ENABLE_CUDASIM, if set, wins).
CUDA_SIMULATOR = _cuda_runtime.prefer_simulator()

PROVER_BACKENDS = ["reference", "cpu"]


@pytest.fixture(scope="module")
def single_threaded():
    """Tiny matmuls: BLAS and torch threads only add contention on the shared 2-core machine
    (the fixed-point vs float training tests)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(params=PROVER_BACKENDS)
def backend(request):
    from prover.backends import get_backend

    return get_backend(request.param)


@pytest.fixture(scope="session")
def gf():
    """galois' GF(r) as an independent oracle.

    Naming the multiplicative generator (7, arkworks' GENERATOR for BLS12-381 Fr) skips
    galois' search for one, which factors r - 1 and takes minutes; verify=False skips the
    primality test. Field arithmetic does not depend on which generator is named.
    """
    import galois

    from verifier.field import MODULUS

    return galois.GF(MODULUS, primitive_element=7, verify=False)


@pytest.fixture
def rng():
    """Deterministic randomness for test data (never for blinding outside tests)."""
    return random.Random(0x5EED)


@pytest.fixture(scope="session")
def pg():
    """The prover's Pedersen generators (arkworks points)."""
    from prover.commit.generators import prover_generators

    return prover_generators()


@pytest.fixture(scope="session")
def vg():
    """The verifier's Pedersen generators (blst points)."""
    from verifier.hash_to_curve import pedersen_generators

    return pedersen_generators("blst")
