"""syconn.proc."""
