-- checks: unique(order_id), not_null(customer_id)
SELECT order_id, customer_id FROM orders
