"""Use cases: each module loads aggregates, asks the domain, saves. No HTTP, no MQTT, no provider SDK."""
