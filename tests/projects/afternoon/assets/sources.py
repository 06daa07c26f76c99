"""The raw orders export."""

from assetflow import source

raw_orders = source("data/orders.csv")
