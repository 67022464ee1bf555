"""From chosen blocks to a faster model: physical export, model card, latency measurement."""
