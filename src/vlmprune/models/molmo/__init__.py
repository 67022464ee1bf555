"""Molmo v1 (Molmo-7B-D/-O, MolmoE-1B): the native implementation, its processing and adapter, and
the remote-code adapter."""
