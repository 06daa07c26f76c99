from assetflow import asset


@asset
def orders():
    return 1
