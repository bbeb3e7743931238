"""`python -m fanqc_gui.cli ...`: the same as `fanqc ...`."""
from fanqc_gui.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
