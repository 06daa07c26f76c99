-- description: One row per customer with first and last order date, number of orders and lifetime value, ranked by lifetime value.
-- tags: marts, customers
-- checks: not_null(customer_id), unique(customer_id), not_null(lifetime_value), relationships(customer_id, stg_customers.customer_id)
-- Lifetime value counts what was paid for orders that were neither cancelled nor returned.
-- Customers without orders are kept, with 0 orders and a lifetime value of 0.
WITH paid_per_order AS (
    SELECT order_id, sum(amount) AS paid
    FROM stg_payments
    GROUP BY order_id
),
per_customer AS (
    SELECT
        o.customer_id,
        min(o.order_date) AS first_order_date,
        max(o.order_date) AS last_order_date,
        count(*) AS number_of_orders,
        sum(p.paid) FILTER (WHERE o.status NOT IN ('cancelled', 'returned')) AS lifetime_value
    FROM stg_orders AS o
    LEFT JOIN paid_per_order AS p USING (order_id)
    GROUP BY o.customer_id
)
SELECT
    customer_id,
    c.name,
    c.email,
    c.country,
    c.signup_date,
    stats.first_order_date,
    stats.last_order_date,
    coalesce(stats.number_of_orders, 0) AS number_of_orders,
    CAST(coalesce(stats.lifetime_value, 0) AS DECIMAL(12, 2)) AS lifetime_value,
    rank() OVER (ORDER BY coalesce(stats.lifetime_value, 0) DESC) AS value_rank
FROM stg_customers AS c
LEFT JOIN per_customer AS stats USING (customer_id)
ORDER BY value_rank, customer_id
