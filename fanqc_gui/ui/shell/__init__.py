"""The window around the pages: main window and menus, workspace and settings actions, the
settings, about and help dialogs."""
