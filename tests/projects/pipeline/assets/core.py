import pyarrow as pa
import pyarrow.compute as pc

from assetflow import asset

OFFSET = 1


def _plus_offset(x):
    return x + OFFSET


@asset
def counts(events: pa.Table) -> pa.Table:
    """Events per kind."""
    # a comment
    grouped = events.group_by("kind").aggregate([("id", "count")])
    return grouped.rename_columns(["kind", "n"]).sort_by("kind")


@asset
def total(counts: pa.Table) -> int:
    return pc.sum(counts.column("n")).as_py()


@asset
def adjusted(total):
    return _plus_offset(total)


@asset
def parity(total) -> str:
    return "even" if total % 2 == 0 else "odd"


@asset
def shout(parity):
    return parity.upper()


@asset
def independent():
    return {"answer": 42}
