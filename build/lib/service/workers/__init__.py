"""Long-running loops of the service: the outbox dispatcher, timers, the live feed, their supervision and health."""
