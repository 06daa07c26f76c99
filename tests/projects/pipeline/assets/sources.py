from assetflow import source

events = source("data/events.csv", description="Raw events.")
