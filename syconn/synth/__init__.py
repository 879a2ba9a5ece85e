"""syconn.synth."""
