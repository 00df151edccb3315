"""Text from the outside world (command-line arguments, standard input, files) read as bytes and
decoded as UTF-8, so undecodable input is reported with where it is instead of ending in a traceback.

Python hands over command-line arguments it could not decode with the bytes kept as surrogate
escapes; `os.fsencode` gives those bytes back.
"""

from __future__ import annotations

import os
from pathlib import Path


class UndecodableInputError(ValueError):
    """Input that is not UTF-8 text; the message says where."""


def decode_utf8(data: bytes, source: str) -> str:
    """`data` as text (a leading byte-order mark dropped); UndecodableInputError naming `source`,
    the first bad byte and its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UndecodableInputError(
            f"{source} is not UTF-8 text: byte 0x{data[err.start]:02x} at byte {err.start + 1} (line {line}) "
            "cannot be decoded"
        ) from None


def argument_text(arg: str, source: str = "the argument") -> str:
    return decode_utf8(os.fsencode(arg), source)


def read_stdin(stdin) -> str:
    """All of `stdin` (sys.stdin); a text stream with no bytes beneath it (io.StringIO) is taken as is."""
    raw = getattr(stdin, "buffer", None)
    return stdin.read() if raw is None else decode_utf8(raw.read(), "standard input")


def read_file(path: Path) -> str:
    """The file's text; OSError (missing, unreadable, a directory) and UndecodableInputError name the file."""
    return decode_utf8(Path(path).read_bytes(), str(path))
