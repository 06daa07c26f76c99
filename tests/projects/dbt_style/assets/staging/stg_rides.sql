-- description: One row per ride, with typed times and its length in minutes.
-- tags: staging
-- checks: not_null(ride_id), unique(ride_id), accepted_values(bike_type, ['classic', 'electric']), relationships(start_station_id, stg_stations.station_id), relationships(end_station_id, stg_stations.station_id), relationships(rider_id, stg_riders.rider_id)
SELECT
    CAST(ride_id AS INTEGER) AS ride_id,
    CAST(rider_id AS INTEGER) AS rider_id,
    lower(bike_type) AS bike_type,
    CAST(start_station_id AS INTEGER) AS start_station_id,
    CAST(end_station_id AS INTEGER) AS end_station_id,
    CAST(started_at AS TIMESTAMP) AS started_at,
    CAST(ended_at AS TIMESTAMP) AS ended_at,
    date_diff('minute', CAST(started_at AS TIMESTAMP), CAST(ended_at AS TIMESTAMP)) AS minutes
FROM raw_rides
