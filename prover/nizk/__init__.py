"""Sigma-protocols of the zero-knowledge layer, prover side.

Each module mirrors ``verifier/nizk/<same name>.py`` (the specification: statement, messages,
checks) and makes the same transcript calls in the same order. Blinding scalars come from
``rng.randrange(r)``; the default is the OS RNG (``secrets.SystemRandom``), and only tests
pass a seeded ``random.Random``.
"""
