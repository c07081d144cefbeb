"""What runs without a person: firing due timers, scheduled starts and the worker loop."""
