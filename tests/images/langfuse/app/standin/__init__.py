"""Langfuse v2 stand-in for the transbot test harness (see tests/images/README.md)."""
