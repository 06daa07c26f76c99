-- description: Rides and minutes per rider and plan.
-- tags: marts
-- checks: unique(rider_id), not_null(plan)
SELECT r.rider_id, r.plan, count(x.ride_id) AS rides, coalesce(sum(x.minutes), 0) AS minutes
FROM stg_riders AS r
LEFT JOIN stg_rides AS x USING (rider_id)
GROUP BY ALL
