-- description: Revenue per order day from paid orders that were not cancelled, with a running total.
-- tags: marts, finance
-- freshness: 1d
-- checks: not_null(day), unique(day), not_null(revenue), row_count(> 0)
WITH paid_per_order AS (
    SELECT order_id, sum(amount) AS paid
    FROM stg_payments
    GROUP BY order_id
)
SELECT
    o.order_date AS day,
    count(*) AS paid_orders,
    CAST(sum(p.paid) AS DECIMAL(12, 2)) AS revenue,
    CAST(sum(sum(p.paid)) OVER (ORDER BY o.order_date) AS DECIMAL(12, 2)) AS cumulative_revenue
FROM stg_orders AS o
JOIN paid_per_order AS p USING (order_id)
WHERE o.status <> 'cancelled'
GROUP BY o.order_date
ORDER BY day
