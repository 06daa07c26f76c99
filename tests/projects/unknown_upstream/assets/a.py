from assetflow import asset


@asset
def orders():
    return 1


@asset
def revenue(ordrs):
    return ordrs
