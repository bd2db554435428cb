from dagster import Definitions, job, op


@op
def hello(context):
    context.log.info("hello")


@job
def my_job():
    hello()


defs = Definitions(jobs=[my_job])
