"""Offscreen pictures of every page for docs/screenshots (`make screenshots`)."""
