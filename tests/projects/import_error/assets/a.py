from assetflow import asset

LIMIT = 1 / 0


@asset
def a():
    return LIMIT
