"""The old repository, kept for reference: nothing loads it."""
from dagster import repository
