"""The ``zktrain`` command line (click).

``prove`` and ``train`` import torch/numba lazily; ``verify`` and ``inspect`` load only the
verifier, as an auditor's pipeline would. The base install holds only the verifier's
dependencies (issue 13, item 4); a command that needs the prover's says which extra to install.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from zktrain.atomic import write_atomic
from zktrain.train.command import train

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "examples" / "digits_mlp.yaml"
_MODES = {"zk": "zero-knowledge", "clear": "clear (non-ZK)"}  # the bundle's mode byte, in words
_RANGES = {"limbs": "16-bit limbs, logUp-GKR", "bits": "bit decomposition"}  # its range byte
_OPTIMIZERS = {"sgd": "SGD", "sgd_momentum": "SGD with momentum", "lars": "LARS", "lamb": "LAMB"}  # train.optimizer
_LOSSES = {"mse": "MSE", "cross_entropy": "softmax cross-entropy"}  # its train.loss


#: Top-level modules of the ``[prove]`` extra (pyproject.toml), by their import names.
PROVE_EXTRA = {"torch", "numba", "llvmlite", "yaml", "py_arkworks_bls12381", "galois", "sklearn", "tqdm", "threadpoolctl"}


class _Commands(click.Group):
    """Turns a missing module of the ``[prove]`` extra into a one-line error naming the extra
    (the base install verifies only), instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] not in PROVE_EXTRA:
                raise
            raise click.ClickException(
                f"zktrain {ctx.invoked_subcommand} needs the prover (the [prove] extra): pip install 'zktrain[prove]' "
                f"(module {err.name} is not installed; the base install only verifies)"
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zktrain")
def main() -> None:
    """Prove in zero knowledge that a model was trained exactly as declared."""


@main.command()
@click.option("--run", "run_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Run file (YAML).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Bundle to write (default: prove.out of the run file).")
@click.option("--steps", type=click.IntRange(min=1), help="Override train.steps (e.g. for a quick run).")
@click.option("--zk/--clear", "zk", default=None, help="Override prove.zk: zero-knowledge or clear (non-ZK) proof.")
@click.option("--range-check", type=click.Choice(["limbs", "bits"]), help="Override prove.range_check (the range gadget).")
@click.option("--segment-steps", type=click.IntRange(min=1), help="Override prove.segment_steps (steps per segment).")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda", "reference"]),
              help="Override prove.backend (the prover's field backend; cuda needs a device, or "
                   "NUMBA_ENABLE_CUDASIM=1 for numba's simulator).")
@click.option("--model-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write: final weights with the opening of their commitments (default: the "
                   "bundle's path with .model.npz for its suffix). Secret in the zero-knowledge mode.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Prove the segments on N local processes (torch.distributed, gloo; at most one per segment). "
                   "Under torchrun the ranks are torchrun's.")
def prove(
    run_file: Path, out: Path | None, steps: int | None, zk: bool | None, range_check: str | None,
    segment_steps: int | None, backend: str | None, model_out: Path | None, workers: int | None,
) -> None:
    """Train RUN in the exact fixed-point semantics and prove it; write the proof bundle and
    the trained model (with the opening of its commitments, secret in the zero-knowledge mode)."""
    from zktrain.distributed import DistributedError, prove_run_workers, torchrun_world
    from zktrain.prove import prove_run
    from zktrain.run_config import RunConfigError, load_run

    try:
        run = load_run(run_file, steps=steps)
    except RunConfigError as err:
        raise click.ClickException(str(err)) from None
    chosen = (("zk", zk), ("range_check", range_check), ("segment_steps", segment_steps), ("backend", backend))
    overrides = {k: v for k, v in chosen if v is not None}
    run = dataclasses.replace(run, options=dataclasses.replace(run.options, **overrides))
    out = out or Path(run.options.out or f"{run.recipe.name}.zkp")
    click.echo(f"proving {run.recipe.name}: widths {list(run.recipe.model.widths)}, batch "
               f"{run.recipe.train.batch_size}, {run.recipe.train.steps} steps, mode "
               f"{'zk' if run.options.zk else 'clear'}, range checks by {run.options.range_check}, backend "
               f"{run.options.backend}")
    try:
        if workers is None and torchrun_world() is None:
            bundle, s = prove_run(run, progress=lambda msg: click.echo(f"  {msg}"))
        else:
            done = prove_run_workers(run, workers, progress=lambda msg: click.echo(f"  {msg}"))
            if done is None:  # a rank of a torchrun launch other than 0: rank 0 writes the files
                return
            bundle, s, _ = done
    except (NotImplementedError, ValueError, DistributedError) as err:
        raise click.ClickException(str(err)) from None
    model_out = model_out or out.with_suffix(".model.npz")
    write_atomic(out, bundle)
    write_atomic(model_out, s.model.to_bytes(), private=run.options.zk)
    click.echo(
        f"wrote {out}: {s.bundle_bytes:,} bytes (proof {s.proof_bytes:,}); {s.steps} steps "
        f"(padded to {s.padded_steps}) in {s.segments} segment{'s' if s.segments > 1 else ''}; proving {s.prove_seconds:.1f} s "
        f"({s.prove_seconds / s.steps:.2f} s per step"
        + (f"; {s.wall_seconds:.1f} s wall on {s.workers} workers" if s.workers > 1 else "")
        + f"); fixed-point test accuracy {s.test_accuracy:.3f}"
    )
    secret = (" SECRET: it opens the bundle's weight commitments, which the zero-knowledge proof hides; "
              "give it only to whom you disclose the model" if run.options.zk else "")
    click.echo(f"wrote {model_out}: the trained model and the opening of its commitments "
               f"(zktrain verify {out} --weights {model_out}).{secret}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {path}: {err.strerror}") from None


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="The data set (.npz, as export-data writes it) of a bundle whose data is public.")
@click.option("--data-commitment", type=click.Path(dir_okay=False, path_type=Path),
              help="The data owner's published commitment, for a bundle whose data is committed.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="A disclosed model file (.model.npz) to check against the bundle's final commitments.")
@click.option("--training", type=click.Path(dir_okay=False, path_type=Path),
              help="BUNDLE is an inference bundle: the training bundle it names (its final commitments are the model's).")
@click.option("--inputs", type=click.Path(dir_okay=False, path_type=Path),
              help="With --training: an inputs file (.npz, array X) to check against the bundle's inputs, or against "
                   "their commitment with --inputs-opening.")
@click.option("--inputs-opening", type=click.Path(dir_okay=False, path_type=Path),
              help="With --training and --inputs: the opening of committed inputs that prove-inference wrote.")
def verify(
    bundle: Path, as_json: bool, data: Path | None, data_commitment: Path | None, weights: Path | None,
    training: Path | None, inputs: Path | None, inputs_opening: Path | None,
) -> None:
    """Verify a proof bundle: prints ACCEPT or REJECT with the reason, then what each artifact
    is bound to; exit 0 only on accept. An inference bundle (with --training) also lists the
    predictions (--json: the logits too) and says whether its inputs are public, committed, or
    committed and disclosed (--inputs with --inputs-opening, checked against the commitment)."""
    from verifier.cli import render, verify_file

    result = verify_file(bundle, training, dataset=data, data_commitment=data_commitment, weights=weights,
                         inputs=inputs, inputs_opening=inputs_opening)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else render(result))
    sys.exit(0 if result.accepted else 1)


@main.command("prove-inference")
@click.option("--model", "model_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file prove wrote (.model.npz): the weights and the opening of their commitments.")
@click.option("--training", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The training bundle whose final commitments the model opens.")
@click.option("--inputs", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="An .npz with an array X of raw features, one input per row.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Inference bundle to write.")
@click.option("--zk/--clear", "zk", default=None,
              help="Zero-knowledge or clear (non-ZK) proof (default: the training bundle's mode).")
@click.option("--range-check", default="limbs", show_default=True, type=click.Choice(["limbs", "bits"]),
              help="The range gadget.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "reference"]),
              help="The prover's field backend (cuda needs a device, or NUMBA_ENABLE_CUDASIM=1).")
@click.option("--committed-inputs/--public-inputs", "committed", default=False, show_default=True,
              help="Put a hiding commitment to the inputs in the bundle instead of the inputs themselves (the "
                   "zero-knowledge mode hides them); their opening is written beside the bundle.")
@click.option("--inputs-opening-out", type=click.Path(dir_okay=False, path_type=Path),
              help="With --committed-inputs: the opening file to write (default: the bundle's path with "
                   ".inputs-opening.npz for its suffix). Secret: with the inputs it opens their commitment.")
def prove_inference(
    model_file: Path, training: Path, inputs: Path, out: Path, zk: bool | None, range_check: str, backend: str,
    committed: bool, inputs_opening_out: Path | None,
) -> None:
    """Prove that the trained model maps the inputs (public, or committed) to its logits
    (predictions: their argmax), against the training bundle's final commitments; write the
    inference bundle (and, for committed inputs, their opening)."""
    from zktrain.inference import prove_inference_run

    if inputs_opening_out is not None and not committed:
        raise click.ClickException("--inputs-opening-out: public inputs have no opening (add --committed-inputs)")
    try:
        bundle, s = prove_inference_run(model_file, training, inputs, zk, range_check, backend,
                                        progress=lambda msg: click.echo(f"  {msg}"), committed_inputs=committed)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    opening_out = inputs_opening_out or out.with_suffix(".inputs-opening.npz")
    if committed:  # the opening first: a bundle of committed inputs is never left without it
        write_atomic(opening_out, s.inputs_opening.to_bytes(), private=True)
    write_atomic(out, bundle)
    click.echo(f"wrote {out}: {s.bundle_bytes:,} bytes (proof {s.proof_bytes:,}); {s.rows} inputs "
               f"({'committed' if committed else 'public'}), mode {'zk' if s.zk else 'clear'}; proving "
               f"{s.prove_seconds:.2f} s; predictions {s.predictions} (zktrain verify {out} --training {training})")
    if committed:
        reveal = "" if s.zk else (" (the clear mode reveals evaluations of the inputs at random points: prove with "
                                  "--zk to hide them)")
        click.echo(f"wrote {opening_out}: the opening of the inputs' commitment{reveal}. SECRET: with the inputs it "
                   f"opens the commitment; to disclose the inputs, hand over both (zktrain verify {out} --training "
                   f"{training} --inputs {inputs} --inputs-opening {opening_out})")


@main.command("export-data")
@click.argument("source")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .npz to write.")
def export_data(source: str, out: Path) -> None:
    """Write a data set as the .npz a verifier or a data owner takes: SOURCE is a built-in
    source with its default options (digits) or a run file (its data section). Arrays X, y
    (the training rows, in the order the batches index them) and X_test, y_test."""
    from zktrain.data import DataError, export_dataset, load_dataset

    try:
        if source.endswith((".yaml", ".yml")):
            from zktrain.run_config import RunConfigError, load_run

            try:
                dataset = load_run(Path(source)).dataset
            except RunConfigError as err:
                raise click.ClickException(str(err)) from None
        else:
            dataset = load_dataset({"source": source})
    except DataError as err:
        raise click.ClickException(str(err)) from None
    write_atomic(out, export_dataset(dataset))
    click.echo(f"wrote {out}: {dataset.name}, {len(dataset.y_train)} training rows of {dataset.num_features} "
               f"features, {len(dataset.y_test)} test rows, {dataset.num_classes} classes")


@main.command("commit-data")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The public commitment to write (publish it).")
@click.option("--opening", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The secret opening to write (give it to the trainer only).")
@click.option("--frac-bits", default=16, show_default=True, type=click.IntRange(1, 24), help="R: inputs at 2^R.")
@click.option("--input-bits", type=click.IntRange(1, 62), help="Input width (default: the narrowest that holds X).")
@click.option("--label-bits", type=click.IntRange(2, 62), help="Label width (default: R + 1).")
@click.option("--range-check", default="limbs", show_default=True, type=click.Choice(["limbs", "bits"]))
def commit_data(dataset: Path, out: Path, opening: Path, frac_bits: int, input_bits: int | None,
                label_bits: int | None, range_check: str) -> None:
    """Commit to the training rows (X, y) of DATASET (.npz) once, as a data owner: a hiding
    commitment to publish, and its opening for the trainer (run file: data: {source: npz,
    path: DATASET, binding: committed, commitment: OUT, opening: OPENING})."""
    from zktrain.data_commitment import commit_training_rows

    try:
        commitment, opened = commit_training_rows(dataset, frac_bits, input_bits, label_bits, range_check)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    write_atomic(out, commitment.to_bytes())
    write_atomic(opening, opened.to_bytes(), private=True)
    e = commitment.encoding
    click.echo(f"wrote {out}: commitment {commitment.digest()} to {e.rows} rows ({e.features} features at 2^{e.frac_bits} "
               f"in {e.input_bits} bits, {e.classes} classes), {range_check}")
    click.echo(f"wrote {opening}: its opening. SECRET: with the data it opens the commitment; give it to the trainer only")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
def inspect(bundle: Path) -> None:
    """Print the public statement of a proof bundle (without verifying it)."""
    from verifier.bundle import parse_bundle
    from verifier.errors import VerifyError

    try:
        parsed = parse_bundle(_read(bundle))
    except VerifyError as err:
        raise click.ClickException(f"not a valid bundle: {err}") from None
    r = parsed.recipe
    click.echo(f"recipe      {r.name} (sha3-256 {r.digest().hex()[:16]}..., semantics v{r.semantics})")
    click.echo(f"mode        {_MODES['zk' if parsed.zk else 'clear']}")
    click.echo(f"range check {_RANGES[parsed.final.statement.circuit.range_check]}")
    click.echo(f"data        {r.data.source}: {r.data.features} features, {r.data.classes} classes, "
               f"inputs {r.data.input_bits} bits, labels {r.data.label_bits} bits")
    click.echo(f"model       MLP {list(r.model.widths)}, bias {r.model.bias}, init {r.model.init} (seed {r.seed})")
    click.echo(f"training    {_OPTIMIZERS.get(r.train.optimizer, r.train.optimizer)} on "
               f"{_LOSSES.get(r.train.loss, r.train.loss)}, batch {r.train.batch_size}, {r.train.steps} steps, "
               f"lr_num {_summarize(r.train.lr_num)} / 2^{r.quant.lr_shift}")
    click.echo(f"quant       R={r.quant.frac_bits} k={r.quant.lr_shift} Q={r.quant.value_bits} "
               f"weights {r.quant.weight_bits} bits")
    segments = parsed.segments
    if len(segments) > 1:
        click.echo(f"segments    {len(segments)} of {segments[0].statement.circuit.steps} steps, chained by "
                   f"committed checkpoints of the weights")
    for seg in segments:
        where = f"[segment {seg.statement.segment}] " if len(segments) > 1 else ""
        for name, com in seg.public.items():
            click.echo(f"commitment  {where}{name:8s} {len(com.rows)} rows, first {com.rows[0].hex()[:24]}...")
    click.echo(f"proof       {sum(len(seg.proof) for seg in segments):,} bytes")


def _summarize(values) -> str:
    values = list(values)
    return str(values[0]) if len(set(values)) == 1 else f"{values[:4]}{'...' if len(values) > 4 else ''}"


@main.command()
@click.option("--steps", type=click.IntRange(min=1), help="Override train.steps of the embedded default.")
def demo(steps: int | None) -> None:
    """Prove and verify the embedded default run (examples/digits_mlp.yaml)."""
    from verifier.bundle import verify_bundle
    from zktrain.prove import prove_run
    from zktrain.run_config import load_run

    run = load_run(DEFAULT_RUN, steps=steps)
    click.echo(f"zktrain demo: {DEFAULT_RUN.name}")
    bundle, s = prove_run(run, progress=lambda msg: click.echo(f"  {msg}"))
    out = Path(run.options.out or f"{run.recipe.name}.zkp")
    write_atomic(out, bundle)
    click.echo(f"proof written to {out} ({s.bundle_bytes:,} bytes, {s.prove_seconds:.1f} s)")
    report = verify_bundle(bundle)
    click.echo(f"verify: {'ACCEPT' if report.accepted else 'REJECT'}: {report.reason} ({report.seconds:.2f} s)")
    tampered = bytearray(bundle)
    tampered[len(tampered) // 2] ^= 1
    bad = verify_bundle(bytes(tampered))
    click.echo(f"verify a copy with one flipped bit: {'ACCEPT' if bad.accepted else 'REJECT'}: {bad.reason}")
    sys.exit(0 if report.accepted and not bad.accepted else 1)


main.add_command(train)

if __name__ == "__main__":
    main()
