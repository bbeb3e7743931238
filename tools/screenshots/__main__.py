"""`python -m tools.screenshots OUT_DIR`: render every page of the app on the demo workspace."""
from tools.screenshots.render_all import main

if __name__ == "__main__":
    raise SystemExit(main())
