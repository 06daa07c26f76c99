"""dbt's seeds and sources: files, typed where they are declared (reader options)."""

from assetflow import source

# A seed with its column types (dbt: seeds: column_types), read as DuckDB reads it.
raw_stations = source(
    "data/stations.csv",
    delim=";",
    header=True,
    dateformat="%d.%m.%Y",
    columns={
        "station_id": "INTEGER",
        "station_name": "VARCHAR",
        "opened_on": "DATE",
        "docks": "INTEGER",
    },
    description="Docking stations, from the operations team's spreadsheet.",
)
raw_riders = source(
    "data/riders.csv",
    columns={"rider_id": "INTEGER", "plan": "VARCHAR", "signed_up": "DATE"},
)
raw_rides = source("data/rides.csv", description="Rides exported from the bike fleet system.")
