"""The byte encodings of proof objects and the bounds-checked reader (verifier/encoding.py)."""

from __future__ import annotations

import pytest

from verifier.curve import IDENTITY_BYTES
from verifier.encoding import Reader, encode_points, read_artifact
from verifier.errors import VerifyError
from verifier.field import MODULUS as R


def test_reader_takes_bytes_only():
    for data in (b"\x01\x02", bytearray(b"\x01"), memoryview(b"\x01")):
        assert Reader(data, "x").remaining == len(data)
    with pytest.raises(VerifyError, match="^proof: expected bytes, got str$"):
        Reader("0102", "proof")


def test_reader_bounds_every_read():
    reader = Reader(b"\x00" * 10, "proof")
    with pytest.raises(VerifyError, match=r"^proof: truncated \(needs 11 more bytes, has 10\)$"):
        reader.take(11)
    with pytest.raises(VerifyError, match=r"^proof: truncated \(needs -1 more bytes"):
        reader.take(-1)
    assert reader.take(10) == b"\x00" * 10 and reader.take(0) == b""
    with pytest.raises(VerifyError, match=r"^proof: truncated \(needs 1 bytes, has 0\)$"):
        reader.expect(1)


def test_reader_counts_are_bounded():
    assert Reader((7).to_bytes(4, "little"), "x").count(7) == 7
    with pytest.raises(VerifyError, match="^x: count 8 exceeds the bound 7$"):
        Reader((8).to_bytes(4, "little"), "x").count(7)


def test_reader_scalars_and_points_are_canonical():
    with pytest.raises(VerifyError, match="^proof: non-canonical field element"):
        Reader(R.to_bytes(32, "little"), "proof").scalar()
    with pytest.raises(VerifyError, match="^proof: G1 point: compression flag not set$"):
        Reader(bytes(48), "proof").point()
    assert Reader(IDENTITY_BYTES, "proof").point() == IDENTITY_BYTES


def test_reader_refuses_leftover_bytes():
    reader = Reader(b"\x00\x00", "proof")
    reader.take(1)
    with pytest.raises(VerifyError, match="^proof: 1 trailing bytes$"):
        reader.finish()


def test_encode_points_refuses_other_lengths():
    assert encode_points([IDENTITY_BYTES] * 2) == IDENTITY_BYTES * 2
    with pytest.raises(ValueError, match="a compressed G1 point is 48 bytes, got 47"):
        encode_points([IDENTITY_BYTES[:-1]])


def test_read_artifact_bytes_or_path(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    assert read_artifact(b"abc", "model") == (b"abc", "model")
    assert read_artifact(tmp_path / "a.bin", "model") == (b"abc", f"model {tmp_path / 'a.bin'}")
    with pytest.raises(VerifyError, match="^model .*missing.bin: cannot read"):
        read_artifact(tmp_path / "missing.bin", "model")
