"""gunicorn settings, all derived from the environment through config.py.

`pipenv run serve` and the container both start `gunicorn --config gunicorn.conf.py app:app`.
A bad setting stops the master before any worker starts, with one line naming the variable.
"""

import ctypes
import ctypes.util

from gunicorn.glogging import Logger

from config import load_or_exit
from core.logs import handler_config
from web.gthread_deadline import DeadlineThreadWorker


class _AppLogsRequests(Logger):
    """gunicorn's logger without its access log: the app logs each request once, with its id.
    (With logconfig_dict set, gunicorn would otherwise build access-log fields for every request
    only to drop them.)"""

    access_log_enabled = False

    def access(self, resp, req, environ, request_time):
        pass


def _return_large_buffers_to_the_os() -> None:
    """Image uploads allocate buffers of megabytes. glibc serves such buffers with mmap and
    unmaps them when freed, but after the first free it raises that threshold, so later ones
    come from per-thread heaps that keep the memory: measured, 8 concurrent 5 MiB uploads then
    left workers at 234 MB instead of ~130. Fixing the threshold (in the master, so workers
    inherit it) keeps it. Other C libraries have no mallopt and need nothing."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, "mallopt"):
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 128 * 1024)


_return_large_buffers_to_the_os()
settings = load_or_exit(need_secret=True)

bind = [f"{settings.bind_host}:{settings.port}"]
workers = settings.web_concurrency
threads = settings.threads
# gthread with a deadline on reading each request (a trickling client cannot keep a thread);
# sync workers use gunicorn's own per-read `timeout`.
worker_class = DeadlineThreadWorker if settings.threads > 1 else "sync"
# Keep-alive saves a TCP handshake per request for clients that reuse connections.
keepalive = 5
# A worker that is silent this long is killed and replaced; well above DB timeouts.
timeout = 30
# On SIGTERM in-flight requests get this long to finish; compose's stop_grace_period is longer.
graceful_timeout = settings.graceful_timeout
# The app is imported in each worker, so each builds its own database pool after fork.
preload_app = False
# gunicorn 27's control socket is a file under $HOME: a stateless service keeps no local files.
control_socket_disable = True

# One JSON event stream on stdout: gunicorn's own messages in the app's format, and no
# separate access log (the app logs each request once, with its request id).
accesslog = None
errorlog = "-"
logger_class = _AppLogsRequests
logconfig_dict = handler_config(settings.log_level)
# Documented limits for what reaches the app: request line and header sizes.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
