from fanqc_gui.cli import main

raise SystemExit(main())
