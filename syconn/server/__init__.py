"""syconn.server."""
