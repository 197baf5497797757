"""Reading the text files users write: list files, class tables, JSON annotations, YAMLs.

They are UTF-8 (with or without a byte order mark), UTF-16 with a byte order mark, or GBK /
GB18030, which Chinese Windows tools write; anything else is an error naming the file and the
first byte that fits none of them.
"""

import codecs
import json
from pathlib import Path

from utils.errors import DataError

__all__ = ["load_json", "read_text"]


def read_text(path, what="file"):
    """The text of `path` (`what` names it in errors: "list file", "class table", ...)."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "utf-16", path, what)
    if b"\0" in data:
        raise DataError(f"{what} {path} is a binary file (it holds NUL bytes); expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        utf8_error = error
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    start = utf8_error.start
    line = data.count(b"\n", 0, start) + 1
    raise DataError(
        f"{what} {path} is neither UTF-8 nor GBK text: byte 0x{data[start]:02x} on line {line} "
        "fits neither; save it as UTF-8"
    )


def _decode(data, encoding, path, what):
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataError(f"{what} {path} starts as {encoding} but is not: {error}") from None


def load_json(path, what="JSON file"):
    """The parsed JSON of `path` (UTF-8 or GBK); DataError naming the file when it is not."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist")
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as error:
        raise DataError(f"{what} {path} is not valid JSON: {error}") from None
