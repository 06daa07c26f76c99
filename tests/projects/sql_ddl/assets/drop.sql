-- description: Not a query.

DROP TABLE orders
