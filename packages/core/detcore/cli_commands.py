"""`detcore plugins` and `detcore config`: see what is installed and what a config resolves to."""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from detcore import plugins


def add_plugins_command(subparsers) -> None:
    p = subparsers.add_parser(
        "plugins", help="list installed plugins, their versions and the components they provide",
        description="List the installed plugins (entry points in the group 'detcore.plugins'), "
                    "their distributions and versions, and the components each provides. "
                    "Imports no model code.")
    p.add_argument("--registry", metavar="NAME",
                   help="show only this registry (MODELS, DATASETS, ...)")
    p.add_argument("--filter", metavar="PATTERN", default="*",
                   help="show only component names matching this wildcard pattern, e.g. 'YOLO*'")
    p.add_argument("--names-only", action="store_true",
                   help="list plugins and versions without their components")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run_plugins_command)


def run_plugins_command(args) -> int:
    from detcore.registry import REGISTRIES

    if args.registry and args.registry.upper() not in REGISTRIES:
        from detcore.errors import UserError
        raise UserError(f"unknown registry '{args.registry}'; choose from {', '.join(REGISTRIES)}")
    infos = plugins.plugin_infos()
    shown = [REGISTRIES[args.registry.upper()]] if args.registry else list(REGISTRIES.values())
    by_dist: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    if not args.names_only:
        for registry in shown:
            wanted = set(registry.names(args.filter))
            for entry in registry.entries():
                if entry.name in wanted:
                    by_dist[entry.distribution][registry.name].append(entry)
    clashes = {r.name: r.clashes() for r in shown if not args.names_only and r.clashes()}

    if args.json:
        print(json.dumps({
            "plugins": [vars(i) for i in infos],
            "components": {d: {r: [{"name": e.name, "location": e.location} for e in es]
                               for r, es in regs.items()} for d, regs in by_dist.items()},
            "clashes": clashes,
        }, indent=2))
        return 1 if any(i.error for i in infos) else 0

    out = sys.stdout
    for info in infos:
        status = f"FAILED: {info.error}" if info.error else info.module
        out.write(f"{info.name:<16} {info.distribution} {info.version:<10} {status}\n")
        for registry_name, entries in sorted(by_dist.pop(info.distribution, {}).items()):
            names = ", ".join(e.name for e in entries)
            out.write(f"    {registry_name} ({len(entries)}): {names}\n")
    for dist, regs in sorted(by_dist.items()):  # registered outside any plugin hook
        out.write(f"{'(no plugin)':<16} {dist}\n")
        for registry_name, entries in sorted(regs.items()):
            out.write(f"    {registry_name} ({len(entries)}): {', '.join(e.name for e in entries)}\n")
    for registry_name, names in clashes.items():
        for name, dists in names.items():
            out.write(f"CLASH {registry_name}.{name}: provided by {', '.join(dists)}; "
                      f"configs must write '{dists[0]}::{name}' or another dist::{name}\n")
    return 1 if any(i.error for i in infos) else 0


def add_config_command(subparsers) -> None:
    p = subparsers.add_parser(
        "config", help="print a config with its bases merged and overrides applied",
        description="Resolve a config file (a path or 'dist::path'): merge its _base_ files, "
                    "apply --cfg-options, and print the result. Python configs are executed "
                    "to be read; JSON and YAML configs never run code.")
    p.add_argument("config", help="config file: a path, or 'dist::relative/path.py'")
    add_cfg_options_argument(p)
    p.add_argument("--format", choices=("py", "json", "yaml"), default="py",
                   help="output format (default: py)")
    p.add_argument("--out", metavar="FILE", help="write the resolved config to FILE instead")
    p.set_defaults(handler=run_config_command)


def add_cfg_options_argument(parser) -> None:
    """The `--cfg-options key=value ...` argument shared by every command that reads a config."""
    parser.add_argument(
        "--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
        help="override config entries, e.g. model.backbone.depth=50 "
             "train_dataloader.batch_size=4 'param_scheduler.0.end=500' 'img_scale=(640,640)'")


def load_config(args):
    """Config of a command: the file named by ``args.config`` with ``--cfg-options`` applied."""
    from detcore.config import Config, parse_cfg_options

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    return cfg


def run_config_command(args) -> int:
    cfg = load_config(args)
    if args.out:
        cfg.dump(args.out)
        print(f"wrote {args.out}")
    else:
        print(cfg.dump(file_format=args.format))
    return 0


def add_convert_command(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="convert a peer's checkpoint (torchvision, ultralytics, mmdet, ...) to ours",
        description="Map the weights of another library's checkpoint onto our module names. "
                    "Converters come from plugins (see `detcore plugins --registry CONVERTERS`).")
    p.add_argument("--from", dest="source", required=True, metavar="NAME",
                   help="the library SRC comes from: torchvision, ultralytics, mmdet, mmyolo, ...")
    p.add_argument("src", help="the peer's checkpoint, or a plain saved state_dict")
    p.add_argument("dst", help="where to write the converted checkpoint")
    p.add_argument("--config", help="the target model's config, for converters that need it")
    add_cfg_options_argument(p)
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow SRC to unpickle Python objects (runs code from the file; Ultralytics "
                        ".pt files need it). Without it SRC is loaded with weights_only=True.")
    p.set_defaults(handler=run_convert_command)


def run_convert_command(args) -> int:
    import torch

    from detcore.checkpoint import load_checkpoint_file, save_checkpoint_file
    from detcore.errors import UserError
    from detcore.registry import CONVERTERS

    convert = CONVERTERS.get(args.source)
    cfg = load_config(args) if args.config else None
    checkpoint = load_checkpoint_file(args.src, trust_pickle=args.trust_checkpoint)
    state_dict = convert(checkpoint, cfg)
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise UserError(f"converter '{args.source}' returned non-tensor values for {bad[:5]}")
    save_checkpoint_file({"state_dict": state_dict,
                          "meta": {"converted_from": args.source, "source_file": str(args.src)}},
                         args.dst)
    print(f"converted {len(state_dict)} tensors from {args.src} ({args.source}) to {args.dst}")
    return 0
