import os

import pyarrow as pa
import pyarrow.compute as pc

from assetflow import asset


@asset
def big() -> pa.Table:
    """A table whose size the test chooses through BIG_ROWS."""
    n = int(os.environ.get("BIG_ROWS", "1000"))
    ids = pa.array(range(n), type=pa.int64())
    text = pc.binary_join_element_wise("row", pc.cast(pc.bit_wise_and(ids, 1023), pa.string()), " ")
    return pa.table({"id": ids, "text": text})


@asset
def big_count(big: pa.Table) -> int:
    return big.num_rows
