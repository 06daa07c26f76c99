"""The shop's raw exports: three CSV files under data/, read as they are."""

from assetflow import source

raw_customers = source(
    "data/customers.csv",
    description="Customers exported from the shop database.",
)
raw_orders = source(
    "data/orders.csv",
    description="Orders exported from the shop database, one row per order, amounts in cents.",
)
raw_payments = source(
    "data/payments.csv",
    description="Payments from the payment provider; an order can be paid in several parts.",
)
