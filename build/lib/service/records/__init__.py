"""Reading what happened: timelines, replay, audit of who looked, exports, KPIs."""
