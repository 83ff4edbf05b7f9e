"""Names vulture cannot see used: called by frameworks (Falcon, gunicorn, doit), by getattr, or kept in records.
Read by tests/test_dead_code.py; never imported (bare names are uses to vulture)."""
# flake8: noqa

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Falcon calls responders and middleware by name.
_.on_get
_.on_post
_.process_request
_.process_response
_.complete  # falcon.Response.complete: set to end a request in middleware

# moto reads the attributes of the queue messages the stores restore (stores/queued.py).
_.approximate_receive_count

# gunicorn reads its settings as module globals of gunicorn_conf, and loads the worker class by path.
wsgi_app
worker_class
worker_connections
graceful_timeout
accesslog
errorlog
loglevel
proc_name
control_socket_disable
certfile
keyfile
ssl_context
GatewayWorker
_.num_tickets  # gevent pool size gunicorn's gevent worker reads
_.load_config  # gunicorn's Application calls it (gateway/serve.py)

# doit calls its reporter's methods and reads `exit_codes`.
_.exit_codes
_.execute_task
_.skip_uptodate
_.skip_ignore
_.add_failure
_.runtime_error
_.complete_run

# Module-level __getattr__ (PEP 562): DOIT_CONFIG and the gateway's WSGI app are computed on first access.
__getattr__

# Fields of records written to and read from files (state/box.json, /proc/<pid>/stat), kept for readers.
last_restart_at
ppid
description
_.lambda_request_id

# Part of a protocol's signature (WSGI start_response).
exc_info
# httptools calls its protocol's callbacks by name (http1/reader.py).
_.on_message_begin
_.on_url
_.on_header
_.on_headers_complete
_.on_body
_.on_message_complete
# wsgi.input's interface (PEP 3333): apps may call any of them.
_.readlines
# pytest finds these by name.
pytestmark
clean_env
pytest_collection_modifyitems
docker_daemon