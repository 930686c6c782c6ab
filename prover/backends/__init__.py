"""prover/backends."""
