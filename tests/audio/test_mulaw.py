"""G.711 μ-law: the codec's known values and its tables against the reference computation."""

from __future__ import annotations

import struct

import pytest

from wslocust.audio.mulaw import decode, decode_sample, encode, encode_sample


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        (0, 0xFF),
        (32767, 0x80),
        (-32768, 0x00),
        (1000, 0xCE),
        (-1000, 0x4E),
        (8, 0xFE),
        (-8, 0x7E),
        (-1, 0x7E),
    ],
)
def test_encoding_a_sample_gives_the_g711_code(sample: int, code: int) -> None:
    assert encode_sample(sample) == code


@pytest.mark.parametrize(
    ("code", "sample"),
    [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xFE, 8), (0x7E, -8), (0xCE, 988)],
)
def test_decoding_a_code_gives_its_reconstruction_value(code: int, sample: int) -> None:
    assert decode_sample(code) == sample


def test_every_code_but_negative_zero_survives_a_decode_then_an_encode() -> None:
    assert [code for code in range(256) if encode_sample(decode_sample(code)) != code] == [0x7F]


def test_encoding_pcm16_looks_up_every_sample_as_the_computation_gives_it() -> None:
    samples = list(range(-32768, 32768, 7))
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    assert encode(pcm) == bytes(encode_sample(sample) for sample in samples)


def test_decoding_mulaw_gives_little_endian_pcm16_of_every_code() -> None:
    pcm = decode(bytes(range(256)))
    assert struct.unpack("<256h", pcm) == tuple(decode_sample(code) for code in range(256))


def test_pcm_of_an_odd_number_of_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="whole 2-byte samples, got 3 bytes"):
        encode(b"\x00\x01\x02")
