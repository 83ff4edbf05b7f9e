"""The privileged manager worker: pools of leased sandboxes behind an internal unix-socket API."""
