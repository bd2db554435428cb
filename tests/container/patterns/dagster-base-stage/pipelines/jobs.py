import datetime

from dagster import job, op
from dateutil.relativedelta import relativedelta


@op
def month_end(context) -> str:
    day = datetime.date(2026, 12, 6) + relativedelta(day=31)
    context.log.info(f"month ends on {day}")
    return day.isoformat()


@op
def report(context, day: str) -> None:
    context.log.info(f"report written for {day}")


@job
def nightly():
    report(month_end())
