"""The clock, business calendars and the timer events of an instance: what waits and when (no case logic)."""
