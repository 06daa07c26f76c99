from assetflow import asset, source

numbers = source("data/numbers.csv", description="Numbers with labels.")

SCALE = 10


def _scale(x):
    return x * SCALE


@asset(tags=["core"])
def base(numbers):
    """Sum of the numbers, scaled."""
    return _scale(sum(numbers.column("n").to_pylist()))
