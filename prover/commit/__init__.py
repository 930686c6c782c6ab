"""Pedersen and Hyrax commitments on BLS12-381 G1 for the prover (py-arkworks-bls12381)."""
