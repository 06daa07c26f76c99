"""What a dbt macro and var() did: plain Python, with the threshold as a setting."""

import pyarrow as pa
import pyarrow.compute as pc

from assetflow import asset


def _at_least(table: pa.Table, column: str, minimum: int) -> pa.Table:
    # A helper instead of a Jinja macro; it is part of the asset's code version.
    return table.filter(pc.greater_equal(table.column(column), minimum))


@asset(tags=["marts"], checks=["not_null(ride_id)", "warn: row_count(> 0)"])
def long_rides(stg_rides: pa.Table, long_ride_minutes: int) -> pa.Table:
    """Rides of at least long_ride_minutes (dbt: var('long_ride_minutes'))."""
    return _at_least(stg_rides, "minutes", long_ride_minutes).select(
        ["ride_id", "rider_id", "bike_type", "minutes"]
    )
