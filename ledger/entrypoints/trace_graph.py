"""A trace drawn as a graph: donors → donations → units → recipients, in four columns.

The trace page draws the graph on the server, as SVG: no script and no chart
library reaches the browser, and the picture is the same in every browser and
in a printed page. This module computes where each node goes (pure: it reads
the trace document and knows no language); the template draws it.

The layout is a layered one, as a person would draw it by hand: one column per
kind, each node placed level with the nodes it comes from (a donation beside its
donor, a unit beside its donation), then each earlier node moved level with the
middle of what comes from it, and nodes of a column never closer than one row.
Each node keeps what colours it — a unit's status and flags, a donation's
reactive result — and the page it links to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from ledger.domain.disclosure import WITHHELD

__all__ = ["COLUMNS", "Edge", "Graph", "Node", "layout"]

#: The columns, left to right.
COLUMNS = ("donor", "donation", "unit", "recipient")
#: Geometry (SVG user units, i.e. CSS pixels at 100 %).
COLUMN_WIDTH = 240
NODE_WIDTH = 196
NODE_HEIGHT = 46
ROW = 60
TOP = 40
LEFT = 8


@dataclass
class Node:
    """One box of the graph and where it goes."""

    key: tuple[str, ...]
    kind: str  # one of COLUMNS
    label: str
    href: str | None
    status: str | None = None  # a unit's status, else None
    component: str | None = None
    flags: list[str] = field(default_factory=list)
    flagged: bool = False
    place: str | None = None  # the facility a donation was collected at, a recipient given at
    column: int = 0
    y: float = 0.0
    parents: list[Node] = field(default_factory=list, repr=False)
    children: list[Node] = field(default_factory=list, repr=False)

    @property
    def x(self) -> float:
        return LEFT + self.column * COLUMN_WIDTH

    @property
    def testid(self) -> str:
        return "node-" + "-".join(self.key)


@dataclass(frozen=True)
class Edge:
    """A line from one node's right side to the next node's left side."""

    x1: float
    y1: float
    x2: float
    y2: float


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT

    def column_x(self, column: int) -> float:
        return LEFT + column * COLUMN_WIDTH

    def of(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]


def _trace_href(kind: str, value: str) -> str | None:
    return None if value == WITHHELD else "/trace?" + urlencode({kind: value})


def _unit_href(din: str, product: str | None = None) -> str:
    path = f"/units/{quote(din, safe='')}"
    return path + ("?" + urlencode({"product": product}) if product else "")


def layout(document: dict[str, Any]) -> Graph:
    """Where each node of a trace document goes, and the edges between them."""
    nodes: dict[tuple[str, ...], Node] = {}

    def node(key: tuple[str, ...], **kw: Any) -> Node:
        if key not in nodes:
            nodes[key] = Node(key=key, column=COLUMNS.index(key[0]), **kw)
        return nodes[key]

    def link(parent: Node, child: Node) -> None:
        if child not in parent.children:
            parent.children.append(child)
            child.parents.append(parent)

    for donor in document.get("donors", []):
        node(("donor", donor), kind="donor", label=donor, href=_trace_href("donor", donor))
    for d in document.get("donations", []):
        donation = node(
            ("donation", d["din"]),
            kind="donation",
            label=d["din"],
            href=_unit_href(d["din"]),
            flagged=bool(d.get("reactive")),
            flags=["REACTIVE_DONATION"] if d.get("reactive") else [],
            place=d.get("facility"),
        )
        donor_id = d.get("donor_id")
        if donor_id:
            giver = node(
                ("donor", donor_id),
                kind="donor",
                label=donor_id,
                href=_trace_href("donor", donor_id),
            )
            link(giver, donation)
    for u in document.get("units", []):
        unit = node(
            ("unit", u["din"], u["product_code"]),
            kind="unit",
            label=u["product_code"],
            href=_unit_href(u["din"], u["product_code"]),
            status=u.get("status"),
            component=u.get("component"),
            flags=list(u.get("flags") or []),
            flagged=bool(u.get("flags")),
        )
        parent = nodes.get(("donation", u["din"]))
        if parent is not None:
            link(parent, unit)
    for r in document.get("recipients", []):
        patient = r["patient_id"]
        recipient = node(
            ("recipient", patient),
            kind="recipient",
            label=patient,
            href=_trace_href("patient", patient),
            place=r.get("facility"),
        )
        given = nodes.get(("unit", r["din"], r["product_code"]))
        if given is not None:
            link(given, recipient)
    columns = [[n for n in nodes.values() if n.kind == kind] for kind in COLUMNS]
    _place(columns)
    edges = [
        Edge(p.x + NODE_WIDTH, p.y + NODE_HEIGHT / 2, c.x, c.y + NODE_HEIGHT / 2)
        for p in nodes.values()
        for c in p.children
    ]
    lowest = max((n.y for n in nodes.values()), default=TOP)
    return Graph(
        nodes=list(nodes.values()),
        edges=edges,
        width=int(LEFT * 2 + (len(COLUMNS) - 1) * COLUMN_WIDTH + NODE_WIDTH),
        height=int(lowest + NODE_HEIGHT + 16),
    )


def _place(columns: Sequence[list[Node]]) -> None:
    """Rows for every node: forward (each beside its parents), then backward (each
    beside the middle of its children), a column's nodes one row apart at least."""
    for index, column in enumerate(columns):
        if index == 0:
            _spread(column, [TOP + i * ROW for i in range(len(column))])
        else:
            column.sort(key=lambda n: (_middle(n.parents, default=float("inf")), n.key))
            _spread(column, [_middle(n.parents, default=TOP) for n in column])
    for column in reversed(columns[:-1]):
        wanted = [_middle(n.children, default=n.y) for n in column]
        _spread(column, wanted)


def _middle(nodes: Iterable[Node], *, default: float) -> float:
    ys = [n.y for n in nodes]
    return sum(ys) / len(ys) if ys else default


def _spread(column: list[Node], wanted: list[float]) -> None:
    """Put each node of ``column`` (in its order) at its wanted row, or one row below
    the node before it if that is lower."""
    floor: float = TOP - ROW
    for n, y in zip(column, wanted, strict=True):
        n.y = max(y, floor + ROW, TOP)
        floor = n.y
