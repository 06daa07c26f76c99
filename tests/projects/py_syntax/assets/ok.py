from assetflow import asset


@asset
def fine():
    return 1
