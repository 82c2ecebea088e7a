"""`invoke bench`: measures first-token latency, full reply time, tokens per second, error rate
and resource use of the local model and the API, and writes the seed's comparison tables
filled with measured numbers, with a chart."""
