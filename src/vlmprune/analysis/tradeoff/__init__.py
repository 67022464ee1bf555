"""The accuracy-latency trade-off: sets per budget with measured latency, the Pareto frontier, its
figure."""
