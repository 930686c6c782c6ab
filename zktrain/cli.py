"""The ``zktrain`` command line (click)."""

from __future__ import annotations

import click

from zktrain.train.command import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zktrain")
def main() -> None:
    """Prove in zero knowledge that a model was trained exactly as declared."""


@main.command()
def demo() -> None:
    """Run the most complete end-to-end demo available on the embedded default."""
    from zktrain.demo import run_demo

    raise SystemExit(run_demo())


main.add_command(train)

if __name__ == "__main__":
    main()
