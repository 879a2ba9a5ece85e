"""HTTP API of a working directory: the original's KNOSSOS-plugin routes (``syconn server``)."""

from syconn.server.app import check_servable, create_app

__all__ = ["create_app", "check_servable"]
