from dagster import Definitions

from pipelines.jobs import nightly

defs = Definitions(jobs=[nightly])
