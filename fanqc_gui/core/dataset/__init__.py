"""Workspaces and their images: folder layout and class mapping, scanning, file moves with undo,
folder listings, the decode cache, the demo workspace."""
