"""Log records and log stores (JSON lines, VictoriaLogs)."""
