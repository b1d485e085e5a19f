"""``seqlab export MODEL --format onnx|numpy --out PATH``: parse arguments, call the library."""

from __future__ import annotations

FORMATS = ("onnx", "numpy")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a seqlab model file as ONNX (states as inputs/outputs) or as NumPy arrays",
        description="Export any model file that seqlab saves (Sequential, forecaster, classifier, regressor, "
                    "language model, seq2seq) for use outside seqlab. --format onnx writes a graph of plain ONNX "
                    "operators with dynamic batch and time axes and the recurrent state as explicit inputs and "
                    "outputs (a seq2seq model gives two files: PATH's stem with .encoder.onnx and .decoder.onnx, "
                    "the decoder one step; a classifier or regressor takes the raw series and their lengths, "
                    "scaled in the graph, and a regressor gives y in the target's units; a forecaster takes "
                    "the windows it prepares, a hybrid one with their lengths, series indices and season "
                    "positions, which seqlab.export.forecast makes from raw history). --format numpy writes "
                    "an .npz of the weights and the config, which seqlab.reference.load runs without torch.")
    p.add_argument("model", metavar="MODEL", help="a .safetensors model file written by seqlab")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="onnx or numpy (default: onnx)")
    p.add_argument("--out", metavar="PATH", help="file to write (default: MODEL with .onnx or .npz)")
    p.set_defaults(func=export_command)


def export_command(args) -> int:
    from pathlib import Path

    from ..cli_args import check_output, check_outputs

    suffix = ".onnx" if args.format == "onnx" else ".npz"
    out = args.out or str(Path(args.model).with_suffix(suffix))
    check_output(out, "--out", (suffix,))
    if args.format == "onnx":
        from ..reference import load
        from .onnx import export_onnx, seq2seq_paths

        ref = load(args.model)
        outputs = ({"--out": out} if ref.kind != "seq2seq" else
                   dict(zip(("--out (its encoder file)", "--out (its decoder file)"), seq2seq_paths(out))))
        check_outputs(outputs, {"MODEL": args.model})
        paths = export_onnx(ref, out)
    else:
        from .numpy import export_numpy

        check_outputs({"--out": out}, {"MODEL": args.model})
        paths = export_numpy(args.model, out)
    for path in paths:
        print(f"wrote {path}")
    return 0
