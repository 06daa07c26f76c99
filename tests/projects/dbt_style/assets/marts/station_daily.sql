-- description: Rides started per station and day (a dbt model materialized as a table).
-- tags: marts
-- checks: not_null(station_name), row_count(> 0)
WITH starts AS (
    SELECT start_station_id AS station_id, CAST(started_at AS DATE) AS day, minutes
    FROM stg_rides
)
SELECT s.station_name, starts.day, count(*) AS rides, sum(minutes) AS minutes
FROM starts
JOIN stg_stations AS s USING (station_id)
GROUP BY ALL
ORDER BY day, station_name
