"""``unmetneed run``: the unattended quarterly job from a TOML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmetneed.cli._app import app, guarded


@app.command()
@guarded
def run(
    config: Annotated[Path, typer.Argument(help="the run's TOML config")],
    period: Annotated[
        str | None, typer.Option(help="the period to run, e.g. 2024/25 (overrides the config)")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="write here instead of the config's folder")
    ] = None,
    quiet: Annotated[
        bool, typer.Option(help="print nothing but errors (cron mails only failures)")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="log as JSON lines")] = False,
) -> None:
    """Validate every input, build every table, and move them into place with a manifest.

    Nothing is written unless everything succeeded: a failure leaves the output folder as
    it was. Exit 2 for a bad config or an unreadable input, 3 for an input that fails
    validation.

    Example: unmetneed run data/sample/quarterly.toml --out-dir out/quarterly
    """
    from unmetneed.api import run as run_job
    from unmetneed.runs.runlog import RunLog

    log = RunLog(quiet=quiet, as_json=log_json)
    result = run_job(config, period=period, out_dir=out_dir, log=log)
    outputs = result.manifest["outputs"]
    if quiet:
        return
    typer.echo(
        f"unmetneed run: wrote {len(outputs)} file(s) for {result.manifest['period']} to "
        f"{result.dest}/publish (restricted: the extract, run log and release register in "
        f"{result.dest}/restricted)",
        err=True,
    )
