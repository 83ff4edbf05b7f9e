"""gevent's monkey-patching for the box's gevent processes, without gevent's plugin discovery (issue 14: start).

`monkey.patch_all()` announces each module it patches to plugins it looks up as importlib.metadata entry points:
every announcement reads the metadata of every installed distribution (a dozen scans per patch_all, 60-80 ms of a
part's start on 2 cores, and importlib.metadata with email and zipfile kept loaded). The box installs no gevent
plugin, and gevent's own one (`signal_os_incompat`) only warns when signal is patched while os is not, which
patch_all() never does; so the announcements go to gevent's in-process subscribers (zope.event) only.
"""

from __future__ import annotations


def patch_all(leave: tuple[str, ...] = ()) -> None:
    """gevent.monkey.patch_all() with its events told to zope.event subscribers, not to entry-point plugins.
    `leave` names modules not to patch (patch_all's keywords: "ssl" also keeps ssl from being imported here).
    Call it first thing in a process's entry point, as patch_all itself."""
    from gevent import events, monkey

    with_plugins = events.notify_and_call_entry_points
    events.notify_and_call_entry_points = events.notify  # gevent looks it up at each announcement
    try:
        monkey.patch_all(**{name: False for name in leave})
    finally:
        events.notify_and_call_entry_points = with_plugins
