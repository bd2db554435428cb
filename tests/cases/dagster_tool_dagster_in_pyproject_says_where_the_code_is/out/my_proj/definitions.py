from dagster import Definitions, job, op


@op
def hello(context):
    context.log.info("hello")


@job
def greet():
    hello()


defs = Definitions(jobs=[greet])
