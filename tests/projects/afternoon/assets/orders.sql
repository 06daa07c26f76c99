-- checks: not_null(order_id), unique(order_id), warn: accepted_values(status, ['paid', 'open'])
SELECT order_id, customer_id, status, amount FROM raw_orders
