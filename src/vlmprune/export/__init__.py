"""From chosen variants to faster models: checkpoints that plain transformers loads, timed.

- ``depth_variant``: the checkpoint with the removed blocks physically deleted.
- ``width_variant``: the checkpoint with the pruned weights zeroed (MULTIFLOW, Wanda, magnitude).
- ``card``: the exported model's card.
- ``latency``: prefill and decode time of an export, measured as a user gets it.
"""

__all__ = ["card", "depth_variant", "latency", "width_variant"]
