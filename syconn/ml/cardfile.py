"""Model files as one ``.npz``: a JSON card and named arrays, no pickled code.

:func:`write_card_file` writes atomically (a temporary file renamed); :func:`read_card_file`
checks the card's ``format`` and ``format_version`` before it returns the arrays, and turns
every way a file can be wrong (missing, not a zip, foreign, truncated) into one
:class:`~syconn.errors.ModelError` line that names the file.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from syconn.errors import ModelError

__all__ = ["write_card_file", "read_card_file"]


def write_card_file(path, card: Mapping, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``card`` (JSON) and ``arrays`` to ``path`` (atomically); returns the path."""
    buf = io.BytesIO()
    np.savez_compressed(buf, card=np.frombuffer(json.dumps(dict(card), indent=1, sort_keys=True)
                                                .encode(), np.uint8), **dict(arrays))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return path


def read_card_file(path, fmt: str, version: int, what: str,
                   fail: Callable[[str], ModelError] | None = None
                   ) -> tuple[dict, dict[str, np.ndarray]]:
    """``(card, arrays)`` of a model file of format ``fmt`` and ``version``; ``what`` names the
    kind of model in messages ("compartment model"); ``fail`` builds the error from a reason
    (default: ``ModelError("<path>: <reason>")``)."""
    path = Path(path)
    fail = fail or (lambda why: ModelError(f"{path}: {why}"))
    if not path.is_file():
        raise fail("no such model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "card" not in z.files:
                raise fail(f"not a syconn {what} (no card)")
            card = json.loads(bytes(z["card"]).decode())
            if not isinstance(card, dict) or card.get("format") != fmt:
                raise fail(f"not a syconn {what} (format "
                           f"{card.get('format') if isinstance(card, dict) else card!r})")
            if card.get("format_version") != version:
                raise fail(f"model format version {card.get('format_version')!r}, this syconn "
                           f"reads version {version}")
            arrays = {k: z[k] for k in z.files if k != "card"}
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError,
            EOFError) as exc:
        raise fail(f"not a readable model file ({type(exc).__name__}: "
                   f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    return card, arrays
