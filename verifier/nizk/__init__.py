"""Sigma-protocols of the zero-knowledge layer, verifier side (Hyrax, Wahby et al. S&P 2018).

One module per protocol, each with its proof object (points as 48-byte encodings, scalars
as ints; ``to_bytes``/``from_bytes`` with a layout fixed by public sizes) and ``verify``:

* ``opening``      knowledge of (v, r) with C = v g + r h (Schnorr/Okamoto);
* ``equality``     C_1, C_2 commit to the same value (knowledge of log_h(C_1 - C_2));
* ``product``      C_z commits to the product of the values in C_x, C_y (Hyrax fig. 5);
* ``dot_product``  C_y commits to <x, a> for the vector x in C_x, public a: square-root
                   size (Hyrax fig. 6);
* ``ipa``          the same statement in log size: the blinded Bulletproofs inner-product
                   argument (Hyrax appendix A, Bulletproofs section 3).

Fiat-Shamir is *strong*: every protocol absorbs its whole statement (the commitments and
public vectors) before its first challenge, so a proof cannot be replayed against another
statement (the "Frozen Heart" weakness of hashing only the prover's messages).
The prover modules in ``prover/nizk`` drive the same transcript calls in the same order.
"""
