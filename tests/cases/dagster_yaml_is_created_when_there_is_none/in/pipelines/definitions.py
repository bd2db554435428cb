from dagster import Definitions
