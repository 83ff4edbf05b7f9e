"""The box wing: start, stop, supervise and inspect a running box (process, docker and compose engines)."""
