"""The clock, business calendars, opsgate's timer event definitions and the timer projection (no case logic)."""
