"""PNG files written byte by byte, for the reading and conversion tests."""
import struct
import zlib


def png_header(width: int, height: int) -> bytes:
    """A PNG of that size (8-bit grey) cut after its first data chunk: PIL identifies it, cannot decode it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 100))
