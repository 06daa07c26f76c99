-- description: Total revenue.
SELECT sum(amount) AS total FROM orders
