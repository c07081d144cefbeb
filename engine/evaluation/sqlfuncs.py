"""Portable SQL helpers for the metrics: elapsed hours (defined with the stored facts, which
store them; engine.processes.case_facts)."""
from __future__ import annotations

from engine.processes.case_facts import hours_between

__all__ = ["hours_between"]
