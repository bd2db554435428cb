"""The nightly ETL job: two ops that report what they did through context.log."""

from dagster import Definitions, job, op


@op
def extract(context) -> list[int]:
    rows = [1, 2, 3]
    context.log.info(f"extracted {len(rows)} rows")
    return rows


@op
def load(context, rows: list[int]) -> None:
    context.log.info(f"loaded {len(rows)} rows")


@job
def etl():
    load(extract())


defs = Definitions(jobs=[etl])
