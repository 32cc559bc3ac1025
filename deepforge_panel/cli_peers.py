"""``deepforge-panel clone``, ``peers`` and ``share``: projects shared between workbenches, and read-only links."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

SERVER_FILE = "server.json"
"""Where a running workbench writes the address it serves (``share`` builds addresses from it)."""


def _home(args: argparse.Namespace):
    from deepforge_panel.crdt import Home

    return Home(args.home)


def cmd_clone(args: argparse.Namespace) -> int:
    from deepforge_panel.crdt.peer_link import clone
    from deepforge_panel.crdt.peer_wire import PeerAddress

    address = PeerAddress.parse(args.url)
    name, stable = asyncio.run(clone(address, _home(args), args.name))
    print(f"cloned {stable.display} as {name!r}; a running workbench on this home keeps it in sync with that peer")
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    from deepforge_panel.crdt.peer_book import OUT, PeerBook
    from deepforge_panel.crdt.peer_wire import PeerAddress

    entry = _home(args).find(args.project)
    book = PeerBook(entry.path)
    try:
        if args.action == "add":
            peer = book.add(PeerAddress.parse(_one_url(args)))
            print(f"added {peer.address}; a running workbench on this home links to it within a second")
            return 0
        if args.action == "remove":
            url = _one_url(args)
            if not book.remove(url):
                raise ValueError(
                    f"{args.project!r} has no peer {PeerAddress.parse(url).display if '://' in url else url!r}"
                )
            print(f"removed {url.split('token=')[0].rstrip('&?')}")
            return 0
        peers = book.peers()
    finally:
        book.close()
    if not peers:
        print(f"{entry.name} has no peers (add one with: deepforge-panel peers {args.project!r} add URL)")
    for peer in sorted(peers, key=lambda p: (p.direction != OUT, p.added)):
        contact = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(peer.contact)) if peer.contact else "never"
        error = f"\t{peer.error}" if peer.error and peer.state != "connected" else ""
        print(f"{peer.address}\t{peer.linked}\t{peer.state}\tlast contact {contact}{error}")
    return 0


def _one_url(args: argparse.Namespace) -> str:
    if not args.url:
        raise ValueError(f"peers {args.action} needs the peer's address (http://host:port/?project=NAME&token=...)")
    return str(args.url)


def share_address(home: Any, project: str, server: str | None = None, *, renew: bool = False) -> str:
    """The address a colleague's workbench clones ``project`` from: this server's, with the project's share token."""
    from urllib.parse import urlencode

    entry = home.find(project)
    base = server or served_url(home.path)
    if base is None:
        raise ValueError(
            "no workbench is running on this home: start one (deepforge-panel serve) or give its address with --url"
        )
    query = urlencode({"project": entry.name, "token": home.share_token(entry.id, renew=renew)})
    return f"{base.rstrip('/')}/?{query}"


def served_url(home: Path) -> str | None:
    """The address the workbench running on ``home`` serves, as it wrote it when it started."""
    try:
        return str(json.loads((Path(home) / SERVER_FILE).read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_share(args: argparse.Namespace) -> int:
    if args.view:
        return cmd_share_view(args)
    if args.label is not None or args.list:
        raise ValueError("--label and --list are for read-only links: add --view")
    if isinstance(args.revoke, str):
        raise ValueError(
            "share --revoke renews the share token and takes no value; to stop a read-only link: "
            f"deepforge-panel share {args.project!r} --view --revoke {args.revoke}"
        )
    print(share_address(_home(args), args.project, args.url, renew=bool(args.revoke)))
    return 0


def cmd_share_view(args: argparse.Namespace) -> int:
    """``share PROJECT --view``: make a read-only link (``--label``), list them (``--list``) or stop one
    (``--revoke ID``)."""
    from deepforge_panel.view_tokens import ViewTokens, present_link

    home = _home(args)
    entry = home.find(args.project)
    tokens = ViewTokens(home.path)
    base = args.url or served_url(home.path)
    if args.revoke is True:
        raise ValueError(f"--view --revoke needs the link's id: deepforge-panel share {args.project!r} --view --list")
    if isinstance(args.revoke, str):
        link = tokens.revoke(entry.id, args.revoke)
        print(f"revoked {link.id} ({link.label}): it opens nothing from now on, and its open pages close")
        return 0
    if args.list:
        links = tokens.links(entry.id)
        if not links:
            print(f"{entry.name} has no read-only links (make one: deepforge-panel share {args.project!r} --view)")
        for link in links:
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(link.created))
            print(f"{link.id}\t{link.label}\tmade {made}\t{present_link(base or '', link.project, link.token)}")
        return 0
    if base is None:
        raise ValueError(
            "no workbench is running on this home: start one (deepforge-panel serve) or give its address with --url"
        )
    link = tokens.create(entry.id, args.label or f"made {time.strftime('%Y-%m-%d %H:%M')}")
    print(present_link(base, link.project, link.token))
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "clone",
        parents=[common],
        help="copy a project from a peer's workbench (URL: its share address) and keep it in sync with it",
    )
    p.add_argument("url", help="the peer's share address: http://host:port/?project=NAME&token=...")
    p.add_argument("--name", help="the local project's name (default: the peer's)")
    p.set_defaults(func=cmd_clone)
    p = sub.add_parser("peers", parents=[common], help="list, add or remove the peers a project syncs with")
    p.add_argument("project")
    p.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    p.add_argument("url", nargs="?", help="the peer's address (add, remove)")
    p.set_defaults(func=cmd_peers)
    p = sub.add_parser(
        "share",
        parents=[common],
        help="print the address a colleague clones a project from, or (--view) a read-only link to its present view",
    )
    p.add_argument("project")
    p.add_argument("--url", help="this workbench's address as colleagues reach it (default: the running server's)")
    p.add_argument(
        "--revoke",
        nargs="?",
        const=True,
        default=False,
        metavar="LINK",
        help="make a new share token: the addresses given out before stop working; "
        "with --view, stop read-only link LINK (its id, from --view --list)",
    )
    p.add_argument(
        "--view",
        action="store_true",
        help="a read-only link: it opens the project's present view (live figures, metrics, progress) and nothing else",
    )
    p.add_argument("--label", help="who or what the read-only link is for (with --view)")
    p.add_argument("--list", action="store_true", help="list the project's read-only links (with --view)")
    p.set_defaults(func=cmd_share)
