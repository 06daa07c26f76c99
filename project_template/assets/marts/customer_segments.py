"""Marketing segments of customers, computed in Python with pyarrow.compute."""

import pyarrow as pa
import pyarrow.compute as pc

from assetflow import CheckOutcome, asset, check

# Changing a threshold changes the asset's code version, so it is recomputed.
VIP_LIFETIME_VALUE = 800.0
REGULAR_MIN_ORDERS = 3


@asset(
    tags=["marketing"],
    checks=[
        "not_null(customer_id)",
        "unique(customer_id)",
        "accepted_values(segment, ['new', 'regular', 'vip'])",
    ],
)
def customer_segments(customer_orders: pa.Table) -> pa.Table:
    """Customers labelled new, regular or vip from their number of orders and lifetime value."""
    lifetime_value = pc.cast(customer_orders["lifetime_value"], pa.float64())
    orders = customer_orders["number_of_orders"]
    segment = pc.if_else(
        pc.greater_equal(lifetime_value, VIP_LIFETIME_VALUE),
        "vip",
        pc.if_else(pc.greater_equal(orders, REGULAR_MIN_ORDERS), "regular", "new"),
    )
    return customer_orders.select(
        ["customer_id", "name", "email", "country", "number_of_orders", "lifetime_value"]
    ).append_column("segment", segment)


@check("customer_segments", severity="warn")
def has_vips(customer_segments: pa.Table) -> CheckOutcome:
    """A custom check: a warning, not an error, when no customer is a VIP."""
    vips = pc.sum(pc.equal(customer_segments["segment"], "vip")).as_py() or 0
    return CheckOutcome(vips > 0, details=f"{vips} VIP customers")
