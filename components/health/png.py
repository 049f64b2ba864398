"""A small, valid PNG made with zlib and struct (no Pillow): the image the probe sends, as the phone agent
sends screenshots."""

from __future__ import annotations

import base64
import struct
import zlib

__all__ = ["make_png", "png_data_url"]


def make_png(width: int = 224, height: int = 224) -> bytes:
    """An 8-bit RGB PNG, red on the left and blue on the right, built with zlib and struct (no Pillow).

    224 px is a multiple of GLM-4.1V's 28 px patch grid (patch 14 × merge 2), so the processor needs no
    resize, and the image costs ~64 tokens.
    """
    row = b"\x00" + b"\xff\x00\x00" * (width // 2) + b"\x00\x00\xff" * (width - width // 2)  # filter 0 + RGB

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height, 9))
            + chunk(b"IEND", b""))


def png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode("ascii")
