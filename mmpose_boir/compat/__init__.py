"""Narrow compatibility shims for the pinned OpenMMLab stack (see docs/install.md)."""
