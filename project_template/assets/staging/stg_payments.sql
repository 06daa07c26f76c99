-- description: Payments with amounts in dollars and typed timestamps.
-- tags: staging, payments
-- checks: not_null(payment_id), unique(payment_id), not_null(order_id), accepted_values(method, ['card', 'paypal', 'bank_transfer', 'gift_card']), relationships(order_id, stg_orders.order_id), row_count(> 0)
-- The relationships check reads stg_orders, so the run builds stg_orders first.
SELECT
    CAST(payment_id AS INTEGER) AS payment_id,
    CAST(order_id AS INTEGER) AS order_id,
    lower(trim(method)) AS method,
    CAST(CAST(amount_cents AS BIGINT) / 100.0 AS DECIMAL(12, 2)) AS amount,
    CAST(paid_at AS TIMESTAMP) AS paid_at
FROM raw_payments
