"""`python -m fanqc_gui.app [WORKSPACE] [--self-test]`: the same as `fanqc-gui`."""
from fanqc_gui.app.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
