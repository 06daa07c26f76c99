-- description: A query with a typo.
SELECT a,
FROM WHERE x
