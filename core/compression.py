"""Gzip for the public pages (core.middleware.PublicGZipMiddleware), and for the pages each
process keeps (core.pages), gzip made from parts compressed once.

A kept page is the same for everyone except a few short values (the CSRF token, a typed date):
its fixed parts are compressed when the page is kept, each on its own (raw deflate ending in a
sync flush, so that no part refers back into another and each ends on a byte), and each response
only adds its values as stored blocks between them, the gzip header with its random padding and
the trailer (CRC-32 and length). Compressing a whole question page again for every request was a
tenth of its time at a rush (bench/bench_rush.py)."""

import gzip
import os
import secrets
import struct
import zlib
from collections.abc import Sequence

# zlib's fastest level. On the pages everyone reads at a release it takes less than half the time
# of Django's level 6 for about 10% more bytes (the first question: 4.2 KB against 3.8 KB, of
# 13.8 KB), and at a rush the server's time is what is scarce (bench/bench_rush.py).
GZIP_LEVEL = 1
# The deflate stream's last block: empty, final (what a compressor's Z_FINISH ends with).
_LAST_BLOCK = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)
_STORED_MAX = 0xFFFF


def _header(max_random_bytes: int) -> bytes:
    """A gzip header with a random-length file name (0 to max_random_bytes - 1 letters), as
    Django's "Heal the BREACH" does, so the sizes of one page vary."""
    name = os.urandom(max_random_bytes).hex()[: secrets.randbelow(max_random_bytes)].encode()
    # Deflate, a file name, no time, "fastest" (4, as gzip writes for level 1), unknown system.
    return b"\x1f\x8b\x08" + bytes([gzip.FNAME]) + b"\x00\x00\x00\x00\x04\xff" + name + b"\x00"


def padded_gzip(content: bytes, max_random_bytes: int) -> bytes:
    """The whole content gzipped, with the random padding."""
    compressed = gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)
    return _header(max_random_bytes) + compressed[10:]


def deflated(part: bytes) -> bytes:
    """A fixed part of a kept page, compressed on its own: raw deflate, not final, ending on a
    byte (a sync flush), to be followed by other parts."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _stored(value: bytes) -> bytes:
    """A value as deflate's stored (uncompressed) blocks, not final: a CSRF token is random, so
    compressing it would gain nothing."""
    blocks = []
    for start in range(0, len(value), _STORED_MAX):
        chunk = value[start : start + _STORED_MAX]
        blocks.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(blocks)


def gzip_of_parts(parts: Sequence[tuple[bytes, bytes | None]], max_random_bytes: int) -> bytes:
    """Gzip of the parts' bytes one after another. Each part is (its bytes, `deflated` of them),
    or (its bytes, None) for a value of this response alone."""
    crc, body = 0, []
    for raw, compressed in parts:
        crc = zlib.crc32(raw, crc)
        body.append(compressed if compressed is not None else _stored(raw))
    size = sum(len(raw) for raw, _compressed in parts)
    return b"".join([_header(max_random_bytes), *body, _LAST_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF)])
