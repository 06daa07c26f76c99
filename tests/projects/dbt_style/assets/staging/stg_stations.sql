-- description: One row per docking station.
-- tags: staging
-- checks: not_null(station_id), unique(station_id), row_count(> 0)
SELECT station_id, trim(station_name) AS station_name, opened_on, docks
FROM raw_stations
