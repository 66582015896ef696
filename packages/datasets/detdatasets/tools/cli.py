"""The ``detcore data`` command: ``synth shapes``, ``browse`` and ``convert``.

Only argparse is imported here (the command line starts fast); each handler imports
its implementation when it runs.
"""

from __future__ import annotations

import functools

FORMATS = ("coco", "voc", "yolo", "labelme", "middle")


def _reports_bad_input(handler):
    """Turn a DatasetError (bad annotations) into the command line's plain error message."""

    @functools.wraps(handler)
    def run(args):
        from detcore.cli import UserError
        from detdatasets.datasets.errors import DatasetError

        try:
            return handler(args)
        except DatasetError as err:
            raise UserError(str(err)) from err

    return run


def add_data_command(subparsers) -> None:
    data = subparsers.add_parser(
        "data", help="generate, browse and convert datasets",
        description="Dataset tools: generate the synthetic shapes dataset, draw annotations "
                    "onto images, convert between COCO, VOC XML, YOLO txt and labelme json.")
    commands = data.add_subparsers(title="data commands", metavar="COMMAND", dest="data_command")
    data.set_defaults(handler=lambda args: data.print_help() or 0)
    _add_synth(commands)
    _add_browse(commands)
    _add_convert(commands)


def _add_synth(commands) -> None:
    synth = commands.add_parser("synth", help="generate a synthetic dataset")
    kinds = synth.add_subparsers(title="datasets", metavar="DATASET", dest="synth_kind")
    synth.set_defaults(handler=lambda args: synth.print_help() or 0)
    shapes = kinds.add_parser(
        "shapes", help="polygons, ellipses and rings on cluttered backgrounds (7 classes)",
        description="Write the synthetic shapes dataset: images, COCO json with polygon "
                    "masks, and optionally VOC XML and YOLO txt. The same seed gives "
                    "byte-identical files.")
    shapes.add_argument("--out", required=True, metavar="DIR", help="output folder")
    shapes.add_argument("--num-train", type=int, default=1000, metavar="N",
                        help="training images (default: 1000)")
    shapes.add_argument("--num-val", type=int, default=200, metavar="M",
                        help="validation images (default: 200)")
    shapes.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    shapes.add_argument("--img-size", type=int, default=256, metavar="PIXELS",
                        help="image side (default: 256)")
    shapes.add_argument("--formats", nargs="+", default=["coco"], choices=("coco", "voc", "yolo"),
                        help="annotation formats; COCO is always written (default: coco)")
    shapes.add_argument("--img-format", default="jpg", choices=("jpg", "png"),
                        help="image file format (default: jpg)")
    shapes.add_argument("--workers", type=int, default=1,
                        help="rendering processes; the output does not depend on it (default: 1)")
    shapes.add_argument("--force", action="store_true",
                        help="regenerate even if DIR already holds this dataset")
    shapes.set_defaults(handler=run_synth_shapes)


def _add_browse(commands) -> None:
    browse = commands.add_parser(
        "browse", help="draw annotations onto images",
        description="Draw the boxes, labels and masks of a dataset onto its images and write "
                    "them to --out. SOURCE is an annotation file (COCO json, middle-format "
                    "json/yaml/pkl, YOLO data YAML, VOC ImageSets txt, a folder of labelme "
                    "json) or a config, whose dataloader's dataset is used; with --pipeline "
                    "the images are drawn after that dataset's pipeline.")
    browse.add_argument("source", help="annotation file, labelme folder, or config file")
    browse.add_argument("--format", default="auto", choices=("auto", "config") + FORMATS,
                        help="what SOURCE is (default: guessed from it)")
    browse.add_argument("--out", required=True, metavar="DIR", help="where to write drawn images")
    browse.add_argument("--img-dir", metavar="DIR",
                        help="image folder (COCO, middle format) or VOC root folder")
    browse.add_argument("--split", default="train", help="YOLO split (default: train)")
    browse.add_argument("--classes", nargs="+", metavar="NAME",
                        help="class names (default: those of the annotations)")
    browse.add_argument("--num", type=int, default=20, metavar="N",
                        help="draw the first N images (default: 20; 0 for all)")
    browse.add_argument("--dataloader", default="train_dataloader",
                        help="config key of the dataloader to browse (default: train_dataloader)")
    browse.add_argument("--pipeline", action="store_true",
                        help="with a config: draw the images after the dataset's pipeline")
    browse.add_argument("--no-masks", action="store_true", help="draw boxes only")
    browse.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config overrides, as for `detcore run`")
    browse.set_defaults(handler=run_browse)


def _add_convert(commands) -> None:
    convert = commands.add_parser(
        "convert", help="convert annotations between COCO, VOC, YOLO txt and labelme",
        description="Read annotations in one format and write them in another. Images are "
                    "copied (or linked) where the target format expects them: VOC "
                    "(JPEGImages/) and YOLO (images/SPLIT/); COCO, labelme and the middle "
                    "format refer to the images where they are.")
    convert.add_argument("src", help="COCO json, VOC ImageSets txt, YOLO data YAML, labelme "
                                     "folder or middle-format file")
    convert.add_argument("dst", help="output: a json/yaml/pkl file (coco, middle) or a folder "
                                     "(voc, yolo, labelme)")
    convert.add_argument("--from", dest="src_format", required=True, choices=FORMATS)
    convert.add_argument("--to", dest="dst_format", required=True, choices=FORMATS)
    convert.add_argument("--img-dir", metavar="DIR",
                         help="image folder of a COCO/middle source, root folder of a VOC one")
    convert.add_argument("--split", default="train",
                         help="YOLO split to read, and the split / image-set name written "
                              "(default: train)")
    convert.add_argument("--classes", nargs="+", metavar="NAME",
                         help="keep only these classes, in this order (default: all)")
    convert.add_argument("--images", default=None, choices=("copy", "symlink", "hardlink", "none"),
                         help="how to place images for VOC/YOLO output (default: copy)")
    convert.add_argument("--segments", action="store_true",
                         help="YOLO output: write polygons instead of boxes for masked objects")
    convert.add_argument("--non-strict", action="store_true",
                         help="skip bad records with a warning instead of stopping")
    convert.set_defaults(handler=run_convert)


@_reports_bad_input
def run_synth_shapes(args) -> int:
    from detdatasets.synthetic.shapes import (
        ShapesConfig,
        ensure_shapes_dataset,
        generate_shapes_dataset,
    )

    config = ShapesConfig(img_size=args.img_size)
    options = dict(num_train=args.num_train, num_val=args.num_val, seed=args.seed,
                   formats=args.formats, img_format=args.img_format, config=config,
                   workers=args.workers)
    if args.force:
        import shutil
        from pathlib import Path

        if (Path(args.out) / "shapes_dataset.json").exists():
            shutil.rmtree(args.out)
        root = generate_shapes_dataset(args.out, **options)
    else:
        root = ensure_shapes_dataset(args.out, **options)
    print(f"shapes dataset ({args.num_train} train, {args.num_val} val images) at {root}")
    return 0


@_reports_bad_input
def run_browse(args) -> int:
    from detdatasets.tools.browse import browse

    written = browse(args)
    print(f"wrote {written} image(s) to {args.out}")
    return 0


@_reports_bad_input
def run_convert(args) -> int:
    from detdatasets.tools.convert import convert

    summary = convert(args)
    print(summary)
    return 0
