"""Embedded S3 and DynamoDB stores (moto on loopback) whose data survives restarts."""

from __future__ import annotations

from esb_runtime.stores.snapshot import delete_data

__all__ = ["delete_data"]
