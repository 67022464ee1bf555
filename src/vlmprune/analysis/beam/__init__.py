"""Beam search over sets of removed blocks: the search, its evaluations, its files and its figure."""
