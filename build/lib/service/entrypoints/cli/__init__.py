"""The `lonewatch` command (INTERFACES.md section 7)."""
