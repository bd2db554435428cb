from dagster import asset


@asset
def numbers():
    return [1, 2]
