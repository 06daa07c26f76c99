from assetflow import source

raw_orders = source("data/orders.csv", description="Orders as exported.")
