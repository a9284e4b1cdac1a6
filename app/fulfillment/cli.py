"""`flask fulfillment …` and `flask supplier-sim`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.queue import drain
from app.fulfillment import jobs

fulfillment_cli = AppGroup("fulfillment", help="Deliveries through suppliers.")


@fulfillment_cli.command("sweep")
@click.option(
    "--drain/--no-drain",
    "run_jobs",
    default=False,
    help="Also run the queued jobs now, in this process.",
)
def sweep_command(run_jobs: bool) -> None:
    """Re-enqueue lost submissions, poll overdue ones, dispatch and retry webhooks (schedule
    it every minute)."""
    from app.webhooks.jobs import periodic

    jobs.sweep()
    periodic()
    if run_jobs:
        drain(current_app)
    click.echo("swept")


@click.command("supplier-sim")
@click.option("--port", default=5050, show_default=True)
@click.option("--failure-rate", default=0.0, show_default=True)
@click.option("--latency-ms", default=300, show_default=True)
def supplier_sim_command(port: int, failure_rate: float, latency_ms: int) -> None:
    """Serve the simulated supplier on 127.0.0.1:PORT."""
    from werkzeug.serving import run_simple

    from app.fulfillment.simulator import create_simulator

    sim = create_simulator({"SIM_FAILURE_RATE": failure_rate, "SIM_LATENCY_MS": latency_ms})
    run_simple("127.0.0.1", port, sim, threaded=True)  # app.run() is ignored inside `flask`
