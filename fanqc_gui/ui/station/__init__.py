"""The Camera page (the station): live view with the ROI, verdict banner, counters, source, capture
rules and the inspection log."""
