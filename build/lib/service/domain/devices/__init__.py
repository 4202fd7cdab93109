"""Devices: their messages, their health, and messages rejected at the gate. Pure."""
