"""The verifier's own command line, ``python -m verifier BUNDLE [--json] [--data FILE]
[--data-commitment FILE] [--weights MODEL] [--training TRAINING [--inputs X.npz
[--inputs-opening FILE]]]`` (argparse, no click): what ``zktrain verify`` does, for an audit
pipeline that installed only the verifier (issue 13, item 4). Prints ACCEPT or REJECT with the
reason, then what the proof binds each artifact to (``Report.artifacts``); exits 0 only on
accept. With ``--training``, BUNDLE is an inference bundle (kind 2,
``verifier.inference_bundle``) checked against the training bundle it names, and the verdict
lists the predictions; ``--inputs`` (with ``--inputs-opening`` for committed inputs) checks
that its inputs are a given file's (``verifier.inference_inputs``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .bundle import Report, verify_bundle
from .inference_bundle import InferenceReport, verify_inference_bundle

#: The bundle's mode byte, in words.
MODE_WORDS = {"zk": "zero-knowledge", "clear": "clear (non-ZK)"}


def render(report: Report | InferenceReport) -> str:
    """The human-readable verdict: one ACCEPT / REJECT line, then one line per artifact (and
    the predictions of an inference bundle)."""
    if not report.accepted:
        return f"REJECT: {report.reason}"
    if isinstance(report, InferenceReport):
        return render_inference(report)
    lines = [f"ACCEPT: {report.reason} ({report.recipe_name}, {report.steps} steps, {MODE_WORDS[report.mode]}, "
             f"soundness error < 2^-{report.soundness_bits:g}, {report.seconds:.2f} s)"]
    lines += [f"  {name}: {binding}" for name, binding in report.artifacts.items()]
    return "\n".join(lines)


def render_inference(report: InferenceReport) -> str:
    lines = [f"ACCEPT: {report.reason} ({report.recipe_name}, {report.rows} input{'s' if report.rows > 1 else ''}, "
             f"{MODE_WORDS[report.mode]}, soundness error < 2^-{report.soundness_bits:g}, training bundle "
             f"< 2^-{report.training_soundness_bits:g}, {report.seconds:.2f} s)",
             f"  predictions: {report.predictions}"]
    lines += [f"  {name}: {binding}" for name, binding in report.artifacts.items()]
    return "\n".join(lines)


def verify_file(bundle: Path, training: Path | None = None, **artifacts) -> Report | InferenceReport:
    """``verify_bundle`` on a bundle file, with the auditor's artifacts (``dataset``,
    ``data_commitment``, ``weights``: paths or None); with ``training``, the bundle is an
    inference bundle and ``verify_inference_bundle`` checks it against that training bundle
    (``weights`` has no use there and is refused), with ``inputs`` and ``inputs_opening``
    (which have no use for a training bundle and are refused there). An unreadable bundle is
    a rejection."""
    try:
        data = bundle.read_bytes()
    except OSError as err:
        return Report(False, f"cannot read {bundle}: {err.strerror}")
    if training is None:
        if artifacts.pop("inputs", None) is not None or artifacts.pop("inputs_opening", None) is not None:
            return Report(False, "--inputs and --inputs-opening check the inputs of an inference bundle: give the "
                                 "training bundle it names (--training)")
        return verify_bundle(data, **artifacts)
    if artifacts.pop("weights", None) is not None:
        return InferenceReport(False, "--weights checks a model file against a training bundle: verify that one "
                                      "without --training")
    return verify_inference_bundle(data, training, **artifacts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the proof bundle (.zkp)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument("--data", type=Path, help="the data set (.npz) of a bundle of public data")
    parser.add_argument("--data-commitment", type=Path, help="the data owner's published commitment of a bundle of committed data")
    parser.add_argument("--weights", type=Path, help="a disclosed model file (.model.npz) to check against the bundle's final commitments")
    parser.add_argument("--training", type=Path,
                        help="BUNDLE is an inference bundle: the training bundle it names (its final commitments are the model's)")
    parser.add_argument("--inputs", type=Path,
                        help="an inputs file (.npz, array X) to check against the inference bundle's inputs or their commitment")
    parser.add_argument("--inputs-opening", type=Path,
                        help="the opening of committed inputs that prove-inference wrote, to check --inputs against the commitment")
    args = parser.parse_args(argv)
    report = verify_file(args.bundle, args.training, dataset=args.data, data_commitment=args.data_commitment,
                         weights=args.weights, inputs=args.inputs, inputs_opening=args.inputs_opening)
    print(json.dumps(report.to_dict(), indent=2) if args.json else render(report))
    return 0 if report.accepted else 1
