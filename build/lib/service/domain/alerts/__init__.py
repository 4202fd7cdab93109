"""Alerts and how they reach a person: the alert, the escalation ladder, notifications, rate limits, duress. Pure: no clock, no IO."""
