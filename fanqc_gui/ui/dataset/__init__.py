"""The Dataset page: Inbox / GO / NG panes of thumbnails, the preview, moves with undo."""
