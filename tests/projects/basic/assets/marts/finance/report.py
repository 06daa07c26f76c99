from assetflow import asset


@asset(group="reports")
def report(base, doubled, context):
    return {"base": base, "rows": doubled.num_rows}


@asset
def summary(report):
    return len(report)
