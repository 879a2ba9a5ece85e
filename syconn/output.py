"""Printing query results as a table, CSV or JSON (the CLI's ``--format``)."""

from __future__ import annotations

import csv
import enum
import json
import math
import sys
from typing import Any, Sequence, TextIO

__all__ = ["OutputFormat", "print_rows"]


class OutputFormat(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]],
               fmt: OutputFormat | str = OutputFormat.table, *, title: str | None = None,
               file: TextIO | None = None) -> None:
    """Print ``rows`` under ``columns`` in ``fmt`` to ``file`` (stdout)."""
    out = file or sys.stdout
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.csv:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        w.writerows(["" if v is None else v for v in r] for r in rows)
    elif fmt is OutputFormat.json:
        json.dump([{c: _json_value(v) for c, v in zip(columns, r)} for r in rows], out, indent=1)
        out.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(str(c), overflow="fold")
        for r in rows:
            table.add_row(*("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
                            for v in r))
        Console(file=out, width=max(100, 14 * len(columns))).print(table)
        if not rows:
            out.write("(no rows)\n")
