"""Dataset sources: each turns one upstream layout into records (see ``vlmprune.data.records``)."""
