import pyarrow as pa
import pyarrow.compute as pc

from assetflow import asset

RATE = 2


@asset(checks=["not_null(id)"])
def orders(raw_orders: pa.Table) -> pa.Table:
    """Orders with amounts converted."""
    # conversion
    return raw_orders.set_column(1, "amount", pc.multiply(raw_orders.column("amount"), RATE))


@asset
def order_count(orders: pa.Table) -> int:
    return orders.num_rows
