"""prover/backends/cpu."""
