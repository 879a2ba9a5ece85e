"""syconn.ml."""
