"""The composition root: one Tornado server hosting the workbench app for a home folder.

Panel and the components are imported here lazily, so the core stays free of UI code and
``deepforge-panel run`` never pays for them. TensorFlow is never imported by the server.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from deepforge_panel.auth import TOKEN_FILE, Grant, Grants, home_token, is_loopback, may_view, protect
from deepforge_panel.cli_peers import SERVER_FILE
from deepforge_panel.crdt import DocStore
from deepforge_panel.crdt.sync import CLOSE_GONE
from deepforge_panel.errors import USER_ERRORS, ProjectError
from deepforge_panel.hub import ProjectHub
from deepforge_panel.peering import Peering, PeerSyncServer
from deepforge_panel.view_tokens import PRESENT_PATH, ViewTokens
from deepforge_panel.workspace import Workspace

WEBSOCKET_MAX_MESSAGE = 256 * 1024 * 1024
"""Figures and consoles can be large; Bokeh's 20 MiB default would drop the session."""

SHARE_CACHE_S = 2.0
"""How long the project a share token opens (and a project's name) is remembered before it is looked up again."""

T = TypeVar("T")

PULL_INTERVAL_MS = 1000
"""How often open projects pick up edits other processes appended to their logs."""


def make_server(
    home: str | Path | None = None,
    port: int = 5006,
    address: str = "127.0.0.1",
    *,
    compute: str = "local",
    compute_options: dict[str, Any] | None = None,
    auth: bool = True,
    **kwargs: Any,
):
    """A Panel/Bokeh server (not started) serving the workbench and the present page (``/present``), and the
    hub it shares between sessions.

    Every route needs the home folder's token (:mod:`deepforge_panel.auth`) unless ``auth`` is
    False, which only a loopback ``address`` allows; a project's share token opens its peer routes, a
    read-only link's token (:mod:`deepforge_panel.view_tokens`) its present page. The hub's compute adapter starts on the
    server's loop as soon as the loop runs.
    """
    if not auth and not is_loopback(address):
        raise ProjectError(
            f"refusing to listen on {address} without a token: anyone who can reach it could read and run "
            "your projects; drop --no-token (the printed URL carries the token) or listen on 127.0.0.1"
        )
    os.environ["BOKEH_RESOURCES"] = "server"
    import panel as pn

    from deepforge_panel.api import routes as api_routes
    from deepforge_panel.apps.present import present
    from deepforge_panel.apps.workbench import workbench

    hub = ProjectHub(Workspace(home), compute=compute, compute_options=compute_options)
    sync = sync_server(hub)
    peering = Peering(hub, sync, port)
    hub.peering = peering

    grants = project_grants(hub) if auth else None
    token = home_token(hub.workspace.path) if auth else ""

    def app() -> object:
        return workbench(hub)

    def present_app() -> object:
        return present(hub, (lambda given, project: may_view(given, project, token, grants)) if auth else None)

    server = pn.serve(
        {"/": app, PRESENT_PATH: present_app},
        port=port,
        address=address,
        show=False,
        start=False,
        title="DeepForge-Panel",
        websocket_max_message_size=WEBSOCKET_MAX_MESSAGE,
        allow_websocket_origin=[f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"],
        extra_patterns=[sync.route("/sync"), *peering.routes().routes("/peer"), *api_routes(hub)],
        **kwargs,
    )
    peering.label = f"{peering.label.rsplit(':', 1)[0]}:{server.port}"
    if auth:
        protect(server._tornado, token, str(hub.workspace.path / TOKEN_FILE), grants)
    from tornado.ioloop import PeriodicCallback

    PeriodicCallback(hub.pull, PULL_INTERVAL_MS).start()
    PeriodicCallback(peering.refresh, PULL_INTERVAL_MS).start()
    server.io_loop.add_callback(hub.start)
    return server, hub


def project_grants(hub: ProjectHub) -> Grants:
    """The project a token other than the home's opens (:class:`~deepforge_panel.auth.Grant`): a read-only
    link's, read from its small file on every request (a revoked link stops at once), else a share token's."""
    projects = hub.workspace.home
    views = ViewTokens(hub.workspace.path)

    def project_name(project_id: str) -> str | None:
        """A project's name (finding it reads every project's store); None once deleted."""
        try:
            return projects.find(project_id).name
        except USER_ERRORS:
            return None

    def share(token: str) -> Grant | None:
        """What a share token opens (peers poll twice a second, and each look-up reads every project's store)."""
        entry = projects.shared_by(token)
        return Grant(entry.id, entry.name, "peer") if entry is not None else None

    name_of, shared = _kept(project_name), _kept(share)  # a renewed share token stops within SHARE_CACHE_S

    def grant(token: str) -> Grant | None:
        link = views.find(token)
        if link is None:
            return shared(token)
        name = name_of(link.project)
        if name is None:  # the project was deleted: its links open nothing
            return None
        return Grant(link.project, name, "view", revoked=link.revoked is not None)

    return grant


def _kept(look: Callable[[str], T], seconds: float = SHARE_CACHE_S, most: int = 1000) -> Callable[[str], T]:
    """``look`` with each answer kept ``seconds`` (at most ``most`` answers: past that, all are dropped)."""
    known: dict[str, tuple[float, T]] = {}

    def kept(key: str) -> T:
        now = time.monotonic()
        hit = known.get(key)
        if hit is not None and now - hit[0] < seconds:
            return hit[1]
        if len(known) > most:
            known.clear()
        known[key] = (now, look(key))
        return known[key][1]

    return kept


def sync_server(hub: ProjectHub) -> PeerSyncServer:
    """The Yjs sync endpoint over the hub's live projects; a project's room closes (code 4410) when the hub
    closes the project (renamed, deleted), so y-websocket clients stop instead of reconnecting."""

    def resolve(project: str, branch: str) -> DocStore:
        store = hub.project(project, branch).store
        assert store is not None, "the hub opens live projects only"
        return store

    sync = PeerSyncServer(resolve, presence_for=hub.presence)
    hub.on_close(lambda project, why: sync.close(project.store, CLOSE_GONE, why) if project.store else None)
    return sync


def peering_stop(hub: ProjectHub) -> Any:
    async def stop() -> None:
        if hub.peering is not None:
            await hub.peering.stop()

    return stop


def serve(
    home: str | Path | None = None,
    port: int = 5006,
    address: str = "127.0.0.1",
    *,
    compute: str = "local",
    compute_options: dict[str, Any] | None = None,
    auth: bool = True,
) -> None:
    """Start the workbench and block; prints the URL (with the token) once it accepts connections."""
    started = time.perf_counter()
    server, hub = make_server(home, port, address, compute=compute, compute_options=compute_options, auth=auth)
    server.start()
    url = f"http://{address}:{server.port}/"
    signed = f"?token={home_token(hub.workspace.path)}" if auth else ""
    elapsed = time.perf_counter() - started
    print(
        f"DeepForge-Panel is running at {url}{signed} (home: {hub.workspace.path}, started in {elapsed:.1f} s)",
        flush=True,
    )
    if hub.workspace.home.exists("digits"):
        print(f"the example project: {url}?project=digits{signed.replace('?', '&')}", flush=True)
    served = hub.workspace.path / SERVER_FILE
    host = socket.getfqdn() if address in ("0.0.0.0", "::", "") else address
    served.write_text(json.dumps({"url": f"http://{host}:{server.port}/", "pid": os.getpid()}), encoding="utf-8")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        served.unlink(missing_ok=True)
        server.io_loop.run_sync(peering_stop(hub))
        server.io_loop.run_sync(hub.close)
