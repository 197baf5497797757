"""Put `lib/` on sys.path so the packages import as `config`, `models`, `datasets`, ..."""

import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parent.parent / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)
