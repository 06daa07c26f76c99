from assetflow import asset


@asset
def a(c):
    return c


@asset
def b(a):
    return a
