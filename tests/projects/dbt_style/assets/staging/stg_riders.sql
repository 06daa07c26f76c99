-- description: One row per rider, with their plan.
-- tags: staging
-- checks: not_null(rider_id), unique(rider_id), accepted_values(plan, ['annual', 'casual'])
SELECT rider_id, lower(plan) AS plan, signed_up
FROM raw_riders
