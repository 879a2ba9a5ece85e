"""syconn.tasks."""
