"""Prover backends: field-vector arithmetic (and later MSMs) behind one interface."""
