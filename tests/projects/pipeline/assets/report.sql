-- description: Counts doubled, in SQL.
SELECT kind, n * 2 AS n2
FROM counts
ORDER BY kind
