-- description: Customers with trimmed names, lowercase emails and typed sign-up dates.
-- tags: staging, customers
-- checks: not_null(customer_id), unique(customer_id), not_null(email), unique(email)
SELECT
    CAST(customer_id AS INTEGER) AS customer_id,
    trim(name) AS name,
    lower(trim(email)) AS email,
    upper(trim(country)) AS country,
    CAST(signup_date AS DATE) AS signup_date
FROM raw_customers
