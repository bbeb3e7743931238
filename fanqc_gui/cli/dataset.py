"""`fanqc scan` and `fanqc demo-data`: check a workspace, or write the synthetic demo workspace."""
from __future__ import annotations

from fanqc_gui.cli.arguments import add_common_options, add_mapping_options
from fanqc_gui.cli.progress import Progress
from fanqc_gui.core.dataset.workspace import open_workspace


def add_parsers(sub) -> None:
    """Register `fanqc demo-data`, `fanqc scan` on the sub-command parsers `sub`."""
    p = sub.add_parser("demo-data", help="write a synthetic demo workspace (fans with labels)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--per-class", type=int, default=300)
    p.add_argument("--inbox", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("scan", help="check a workspace: counts, unreadable files, duplicates")
    p.add_argument("data_dir", metavar="DATA_DIR")
    add_common_options(p)
    add_mapping_options(p)
    p.set_defaults(func=cmd_scan)


def cmd_demo_data(args) -> dict:
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    summary = generate_demo_workspace(args.dir, per_class=args.per_class, inbox=args.inbox, seed=args.seed)
    Progress(args.quiet).say(f"demo workspace in {summary.root}: {summary.counts}")
    return {"root": str(summary.root), "counts": summary.counts, "defects": summary.defects}


def cmd_scan(args) -> dict:
    from fanqc_gui.core.dataset.scan import scan_workspace

    ws = open_workspace(args.data_dir, args.go_folder, args.ng_folder)
    report = scan_workspace(ws, decode=True)
    progress = Progress(args.quiet)
    progress.say(f"{ws.mapping.describe()}\ncounts: {report.counts}")
    for p in report.problems:
        progress.say(f"unusable: {p.path}: {p.reason}")
    for group in report.duplicates:
        progress.say("duplicates: " + ", ".join(str(p) for p in group))
    return report.to_dict()
