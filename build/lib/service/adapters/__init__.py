"""The outside world behind plain interfaces: the event store and its seals, notifiers, files."""
