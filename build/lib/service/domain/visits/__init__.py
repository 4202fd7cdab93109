"""Home visits: the visit, its rules, and the overdue ladder. Pure: no clock, no IO."""
