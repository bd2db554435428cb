"""Nightly report: how long until the end of the month."""

import datetime
import logging

from dateutil.relativedelta import relativedelta

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("report")


def main() -> None:
    today = datetime.date(2026, 12, 6)
    end = today + relativedelta(day=31)
    log.info("report for %s: %d days to the end of the month", today, (end - today).days)


if __name__ == "__main__":
    main()
