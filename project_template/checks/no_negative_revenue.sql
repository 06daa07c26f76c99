-- asset: daily_revenue
-- A SQL check: the query returns the rows that violate it. daily_revenue is
-- its new data, before it is published; other assets are their current data.
SELECT *
FROM daily_revenue
WHERE revenue < 0
