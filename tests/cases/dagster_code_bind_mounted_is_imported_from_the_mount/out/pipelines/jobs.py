from dagster import Definitions, job, op


@op
def extract(context):
    context.log.info("extracted")


@job
def etl():
    extract()


defs = Definitions(jobs=[etl])
