"""``bloodledger token ...`` and ``bloodledger access-log``: the HTTP API's tokens and
the log of who was shown which identifiers (parser and handlers).

``token create`` prints the new token alone on stdout (for a script to keep)
and, on stderr, that it is shown this once: the store keeps only its hash.
``token list`` never shows a token, only a prefix of its hash. ``access-log``
needs ``BLOODLEDGER_CIPHER_KEY`` on a protected ledger: it shows the
identifiers each response revealed. The work is in
:mod:`ledger.services.access`, wired by :func:`ledger.bootstrap.open_access`.

Exit status: 0 done; 2 the command could not run (a bad role, name or FIN, a
name taken, no such token: one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ledger.domain.access import Role

if TYPE_CHECKING:
    from ledger.bootstrap import Access


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    token = subparsers.add_parser(
        "token", help="the HTTP API's bearer tokens: create, revoke, list", parents=[common]
    )
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=help, parents=[common])

    create = action("create", help="make a token (printed once; only its hash is stored)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="the token's name (unique, never reused)")
    create.add_argument(
        "--facility", metavar="FIN", help="the facility it acts for (clinician, integrator)"
    )
    _add_store(create)

    revoke = action("revoke", help="revoke a token: refused from now on")
    revoke.add_argument("name", metavar="NAME")
    _add_store(revoke)

    listed = action("list", help="every token made (never the token itself)")
    listed.add_argument("--json", action="store_true")
    _add_store(listed)

    log = subparsers.add_parser(
        "access-log", help="who was shown which donor and patient identifiers", parents=[common]
    )
    log.add_argument("--limit", type=int, default=100, metavar="N", help="newest N (default 100)")
    log.add_argument("--json", action="store_true")
    _add_store(log)


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="event store URL (default $BLOODLEDGER_STORE)")


def _access(args: argparse.Namespace, *, create: bool = False, reveal: bool = False) -> Access:
    """The tokens and access log of ``--store`` (``reveal``: the cipher key is required
    on a protected ledger, to show identifiers)."""
    from ledger.adapters.persistence import resolve_store
    from ledger.bootstrap import open_access
    from ledger.entrypoints.runtime import cipher_key

    return open_access(
        resolve_store(args.store),
        identity_key=cipher_key(),
        create=create,
        identities_required=reveal,
    )


def _create(args: argparse.Namespace) -> int:
    with _access(args, create=True) as access:
        token = access.control.create(args.name, args.role, args.facility)
    where = f" for {args.facility}" if args.facility else ""
    print(token)
    print(
        f"bloodledger token create: {args.name} ({args.role}{where}); this token is shown "
        "once and only its hash is stored: keep it now",
        file=sys.stderr,
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _access(args) as access:
        access.control.revoke(args.name)
    print(f"token {args.name} revoked")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _access(args) as access:
        tokens = access.control.tokens()
    if args.json:
        print(json.dumps({"tokens": tokens}, indent=2))
        return 0
    for t in tokens:
        state = "active" if t["active"] else f"revoked {t['revoked_at']}"
        print(
            f"{t['name']}  {t['role']}  {t['facility'] or '-'}  created {t['created_at']}  "
            f"{state}  sha256:{t['fingerprint']}"
        )
    print(f"{len(tokens)} tokens, {sum(t['active'] for t in tokens)} active")
    return 0


def _access_log(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    with _access(args, reveal=True) as access:
        entries = access.control.entries(limit=args.limit)
    if args.json:
        print(json.dumps({"entries": entries}, indent=2))
        return 0
    for e in entries:
        print(f"{e['id']:>7}  {e['at']}  {e['token_name']} ({e['role']})  {e['route']}  {_ids(e)}")
    print(f"{len(entries)} entries, newest first")
    return 0


def _ids(entry: dict[str, Any]) -> str:
    return ", ".join(f"{i['kind']} {i['id']}" for i in entry["identifiers"])


TOKEN_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "create": _create,
    "revoke": _revoke,
    "list": _list,
}


def run(args: argparse.Namespace) -> int:
    if args.command == "access-log":
        return _access_log(args)
    return TOKEN_COMMANDS[args.token_command](args)
