-- description: Every number doubled.
-- tags: core, sql
SELECT n, n * 2 AS doubled FROM numbers
