"""`fanqc models`, `fanqc export` and `fanqc import-model`: the model store from a terminal."""
from __future__ import annotations

import sys

from fanqc_gui.cli.arguments import add_common_options, add_mapping_options, mapping_from, model_from, store_from
from fanqc_gui.cli.errors import UserError
from fanqc_gui.cli.progress import Progress


def add_parsers(sub) -> None:
    """Register `fanqc export`, `fanqc import-model`, `fanqc models` on the sub-command parsers `sub`."""
    p = sub.add_parser("export", help="(re)write model.tflite for the fast LiteRT backend")
    p.add_argument("model", metavar="MODEL")
    add_common_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import-model", help="bring an old Keras .h5 model into the store")
    p.add_argument("file", metavar="FILE.h5")
    add_common_options(p)
    add_mapping_options(p)
    p.add_argument("--name")
    p.add_argument("--activate", action="store_true")
    p.set_defaults(func=cmd_import_model)

    p = sub.add_parser("models", help="list / activate / delete / rename stored models")
    add_common_options(p)
    p.add_argument("action", nargs="?", default="list", choices=("list", "activate", "delete", "rename", "show"))
    p.add_argument("model", nargs="?", metavar="MODEL")
    p.add_argument("new_name", nargs="?", metavar="NAME", help="for rename")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.add_argument("--force", action="store_true", help="activate a model that is not ready for the station")
    p.set_defaults(func=cmd_models)


def _image_size_option(preset: str, text: str | None) -> dict:
    """--image-size as TrainOptions takes it: the reference preset's square side, the pretrained preset's
    "N"/"WxH" (checked by TrainOptions.validate)."""
    if text is None:
        return {}
    if preset == "pretrained":
        return {"input_size": text}
    try:
        return {"image_size": int(text)}
    except ValueError:
        raise UserError(f"--image-size {text}: the reference preset takes one number N (an NxN input)") from None


def cmd_export(args) -> dict:
    from fanqc_gui.core.models.export import export_tflite

    store = store_from(args)
    info = export_tflite(store, model_from(args, store))
    Progress(args.quiet).say(f"wrote {info.tflite_path}")
    return {"model": str(info.folder), "tflite": str(info.tflite_path), "bytes": info.tflite_path.stat().st_size}


def cmd_import_model(args) -> dict:
    from fanqc_gui.core.models.export import import_h5

    store = store_from(args)
    mapping = mapping_from(args)
    info = import_h5(store, args.file, mapping, name=args.name)
    if args.activate:
        store.activate(info.id)
    Progress(args.quiet).say(f"imported {args.file} as {info.id}: {mapping.describe()}")
    return {"model": str(info.folder), "model_id": info.id, "active": args.activate,
            "class_mapping": info.metadata["class_mapping"], "preprocessing": info.metadata["preprocessing"],
            "invert_output": info.metadata["invert_output"]}


def cmd_models(args) -> dict | list:
    store = store_from(args)
    if args.action == "list":
        active = store.active_id()
        rows = [{**i.summary(), "active": i.id == active} for i in store.list()]
        if not args.json:
            print(f"# model store {store.root}" + ("" if rows else " (empty)"))
            for r in rows:
                acc = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "  -   "
                ready = {True: "ready", False: "NOT READY", None: "unknown"}[r["ready"]]
                print(f"{'*' if r['active'] else ' '} {r['id']:<24} {r['created'][:19]:<19} val_acc {acc} "
                      f"threshold {r['threshold']:.3f} {ready:<9}  {r['name']}"
                      f"{' [anomaly: GO only]' if r.get('kind') == 'anomaly' else ''}")
                if r["ready"] is False:
                    print(f"    {r['verdict']}")
        damaged = [{"folder": name, "reason": reason} for name, reason in store.damaged()]
        if not args.json:
            for d in damaged:
                print(f"! {d['folder']:<24} damaged: {d['reason']}")
        listing = {"store": str(store.root), "active": active, "models": rows}
        return {**listing, "damaged": damaged} if damaged else listing  # the key appears when there are some
    if not args.model:
        raise UserError(f"`fanqc models {args.action}` needs a MODEL id")
    if args.action == "show":
        info = store.get(args.model)
        return info.metadata if args.json else print(info.folder) or {}
    if args.action == "activate":
        info = store.get(args.model)
        ready, verdict = info.readiness()
        if ready is False and not args.force:
            raise UserError(f"{info.id} is not ready for the station: {_why(verdict)}; add --force to activate "
                            f"it anyway")
        info = store.activate(args.model)
        if ready is False:  # forced: said even with --quiet
            print(f"fanqc: warning: {info.id} is active although it is not ready for the station: "
                  f"{_why(verdict)}", file=sys.stderr)
        Progress(args.quiet).say(f"active model: {info.id}")
        return {"active": info.id}
    if args.action == "rename":
        if not args.new_name:
            raise UserError("`fanqc models rename MODEL NAME` needs a NAME")
        info = store.update_metadata(args.model, name=args.new_name)
        return {"model": info.id, "name": info.name}
    info = store.get(args.model)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError(f"deleting {info.id} needs confirmation: add --yes")
        answer = input(f"Delete model {info.id} ({info.name}) for good? Type the id to confirm: ")
        if answer.strip() != info.id:
            raise UserError("not deleted (confirmation did not match)")
    store.delete(info.folder)
    Progress(args.quiet).say(f"deleted {info.id}")
    return {"deleted": info.id}


def _why(verdict: str) -> str:
    """The verdict sentence without its conclusion, to follow "not ready for the station: "."""
    return verdict.removesuffix(": not ready for the station")
