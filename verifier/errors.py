"""The single error type of the verifier: every rejection is a ``VerifyError`` with a reason."""


class VerifyError(Exception):
    """A proof was rejected. ``str(err)`` says why; no other exception escapes a verifier API."""
