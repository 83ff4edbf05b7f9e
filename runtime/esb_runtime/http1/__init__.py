"""HTTP/1.1 on a connected socket: requests read with llhttp, answers written in one piece (gateway, manager)."""
