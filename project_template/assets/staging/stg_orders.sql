-- description: Orders with amounts in dollars and typed dates.
-- tags: staging, orders
-- freshness: 1d
-- checks: not_null(order_id), unique(order_id), accepted_values(status, ['placed', 'shipped', 'delivered', 'returned', 'cancelled']), relationships(customer_id, stg_customers.customer_id)
-- The relationships check reads stg_customers, so the run builds stg_customers first.
SELECT
    CAST(order_id AS INTEGER) AS order_id,
    CAST(customer_id AS INTEGER) AS customer_id,
    CAST(order_date AS DATE) AS order_date,
    lower(trim(status)) AS status,
    CAST(CAST(amount_cents AS BIGINT) / 100.0 AS DECIMAL(12, 2)) AS amount
FROM raw_orders
