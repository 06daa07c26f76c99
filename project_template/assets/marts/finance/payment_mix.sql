-- description: Revenue and revenue share per payment method, over payments of orders that were not cancelled.
-- tags: marts, finance
-- retries: 1
-- checks: not_null(method), unique(method), accepted_values(method, ['card', 'paypal', 'bank_transfer', 'gift_card']), row_count(> 0)
SELECT
    p.method,
    count(*) AS payments,
    CAST(sum(p.amount) AS DECIMAL(12, 2)) AS revenue,
    round(sum(p.amount) / sum(sum(p.amount)) OVER (), 4) AS revenue_share
FROM stg_payments AS p
JOIN stg_orders AS o ON o.order_id = p.order_id
WHERE o.status <> 'cancelled'
GROUP BY p.method
ORDER BY revenue DESC
