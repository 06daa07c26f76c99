"""Headline numbers of the shop: a small dict rather than a table."""

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from assetflow import asset


def _round_money(x: Decimal | float | None) -> float:
    """Round an amount (a Decimal, float or None) to cents; a private helper, not an asset."""
    return round(float(x or 0), 2)


@asset(tags=["finance"], freshness="1d", retries=2, retry_delay=0.5)
def kpis(daily_revenue: pa.Table, stg_orders: pa.Table) -> dict[str, float | int]:
    """Total revenue, order counts and average order value of the shop."""
    total_revenue = pc.sum(daily_revenue["revenue"]).as_py()
    paid_orders = pc.sum(daily_revenue["paid_orders"]).as_py() or 0
    status = stg_orders["status"]
    return {
        "total_revenue": _round_money(total_revenue),
        "order_count": stg_orders.num_rows,
        "paid_order_count": paid_orders,
        "cancelled_order_count": pc.sum(pc.equal(status, "cancelled")).as_py() or 0,
        "returned_order_count": pc.sum(pc.equal(status, "returned")).as_py() or 0,
        "average_order_value": _round_money(total_revenue / paid_orders if paid_orders else 0),
    }
