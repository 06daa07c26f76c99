-- asset: stg_rides
-- dbt's singular test (tests/*.sql): the rows returned are the failures.
SELECT ride_id, started_at, ended_at
FROM stg_rides
WHERE ended_at <= started_at
