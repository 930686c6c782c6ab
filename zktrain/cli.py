"""The ``zktrain`` command line (click).

``prove`` and ``train`` import torch/numba lazily; ``verify`` and ``inspect`` load only the
verifier, as an auditor's pipeline would.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from zktrain.train.command import train

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "examples" / "digits_mlp.yaml"
_MODES = {"zk": "zero-knowledge", "clear": "clear (non-ZK)"}  # the bundle's mode byte, in words
_RANGES = {"limbs": "16-bit limbs, logUp-GKR", "bits": "bit decomposition"}  # its range byte


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
def prove(
    run_file: Path, out: Path | None, steps: int | None, zk: bool | None, range_check: str | None,
    segment_steps: int | None,
) -> None:
    """Train RUN in the exact fixed-point semantics and prove it; write the proof bundle."""
    from zktrain.prove import prove_run
    from zktrain.run_config import RunConfigError, load_run

    try:
        run = load_run(run_file, steps=steps)
    except RunConfigError as err:
        raise click.ClickException(str(err)) from None
    chosen = (("zk", zk), ("range_check", range_check), ("segment_steps", segment_steps))
    overrides = {k: v for k, v in chosen if v is not None}
    run = dataclasses.replace(run, options=dataclasses.replace(run.options, **overrides))
    out = out or Path(run.options.out or f"{run.recipe.name}.zkp")
    click.echo(f"proving {run.recipe.name}: widths {list(run.recipe.model.widths)}, batch "
               f"{run.recipe.train.batch_size}, {run.recipe.train.steps} steps, mode "
               f"{'zk' if run.options.zk else 'clear'}, range checks by {run.options.range_check}")
    try:
        bundle, s = prove_run(run, progress=lambda msg: click.echo(f"  {msg}"))
    except (NotImplementedError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    out.write_bytes(bundle)
    click.echo(
        f"wrote {out}: {s.bundle_bytes:,} bytes (proof {s.proof_bytes:,}); {s.steps} steps "
        f"(padded to {s.padded_steps}) in {s.segments} segment{'s' if s.segments > 1 else ''}; proving {s.prove_seconds:.1f} s "
        f"({s.prove_seconds / s.steps:.2f} s per step); fixed-point test accuracy {s.test_accuracy:.3f}"
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {path}: {err.strerror}") from None


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def verify(bundle: Path, as_json: bool) -> None:
    """Verify a proof bundle: prints ACCEPT or REJECT with the reason; exit 0 only on accept."""
    from verifier.bundle import verify_bundle

    try:
        data = bundle.read_bytes()
    except OSError as err:
        report = {"accepted": False, "reason": f"cannot read {bundle}: {err.strerror}"}
        click.echo(json.dumps(report) if as_json else f"REJECT: {report['reason']}")
        sys.exit(1)
    result = verify_bundle(data)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.accepted:
        click.echo(f"ACCEPT: {result.reason} ({result.recipe_name}, {result.steps} steps, "
                   f"{_MODES[result.mode]}, soundness error < 2^-{result.soundness_bits:g}, {result.seconds:.2f} s)")
    else:
        click.echo(f"REJECT: {result.reason}")
    sys.exit(0 if result.accepted else 1)


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
    click.echo(f"training    SGD on MSE, batch {r.train.batch_size}, {r.train.steps} steps, "
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
    out.write_bytes(bundle)
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
