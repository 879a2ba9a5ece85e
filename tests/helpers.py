"""Helpers shared by the tests that start servers (luigid, SLURM): free ports, polling.

``tests/`` is on ``sys.path`` (``pythonpath`` in pyproject.toml), so ``from helpers import``.
"""

from __future__ import annotations

import socket
import time


def free_ports(n: int = 1, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports on ``host`` (all bound at once, so none is handed out twice).

    >>> a, b = free_ports(2)
    >>> a != b and 0 < a < 65536
    True
    """
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(predicate, timeout_s: float, *, every_s: float = 0.05, stop=lambda: False):
    """The first true value of ``predicate()`` within ``timeout_s`` seconds (asked every
    ``every_s``), or ``None`` once the time is up or ``stop()`` is true.

    >>> wait_until(lambda: 3, 1)
    3
    >>> wait_until(lambda: 0, 0.1) is None
    True
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline or stop():
            return None
        time.sleep(every_s)
