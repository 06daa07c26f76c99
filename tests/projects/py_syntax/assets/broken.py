from assetflow import asset


@asset
def broken(fine)
    return fine
