from assetflow import asset


@asset
def independent() -> int:
    return 42
