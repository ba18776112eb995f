"""A seeded, realistic stream of contract facts: vein to vein, one centre, N hospitals.

The stream follows ``shared/contract/events-v1.md`` and the domain brief
(``shared/domain.md``): donations are collected and tested at the blood centre,
split into components with Chinese 单位 and shelf lives, released, shipped to
hospitals that keep a FEFO stock sized to their demand, crossmatched (red cells and
whole blood, 3-day sample rule), dispensed, transfused, sometimes returned,
reacted to, evaluated, expired or discarded.

Everything ordinary is kept inside the rules, so that the only safety flags the
ledger may raise are the ones deliberately injected and listed in
:attr:`DemoStream.injected`: each breach rides on a unit of its own and produces
exactly one flag. Publication order then imitates real integrations: facts are
sorted by ``occurred_at``, a few hospital facts arrive late and a few are sent twice.

``DemoConfig()`` is a small world the tests replay in a blink; :data:`REGION_CONFIG`
is the demo's region, calibrated on a real hospital's reported figures (stock of
about three days and more of red cells by group, the component mix, the centre's
reserve), with a planted recall (:attr:`DemoStream.recall`) whose notices reach three
hospitals.

No DIRECTED donations are made: China ended mutual-aid (directed) donation in
2018 (``shared/domain.md`` section 8). Identifiers are synthetic: FINs ``S31nn``
(the shape of ISBT 128, not registered), pseudonymous donors ``Dnnnnnn`` and
patients ``Pnnnnnn``, staff ``role-nnnn``. The product description codes are
illustrative, not taken from the licensed ICCBBA database. The stream is a pure
function of :class:`DemoConfig`; nothing here does I/O.

One module per part of the world: :mod:`~simulator.config` (the input, the output
and the world's constants), :mod:`~simulator.world` (the seeded simulation state),
:mod:`~simulator.donations`, :mod:`~simulator.testing`, :mod:`~simulator.components`,
:mod:`~simulator.distribution`, :mod:`~simulator.hospitals`,
:mod:`~simulator.breaches` (the injected rule breaches), :mod:`~simulator.recall`
(the planted recall), :mod:`~simulator.faults` (publication order) and
:mod:`~simulator.stream`, whose :func:`generate` plays the stages in order.
"""

from simulator.config import (
    BREACH_FLAGS,
    DEFAULT_CONFIG,
    INJECTED_FLAGS,
    REGION_CONFIG,
    ComponentUse,
    DemoConfig,
    DemoStream,
    HospitalUse,
    PlantedRecall,
    RecalledUnit,
)
from simulator.faults import count_late
from simulator.stream import generate

__all__ = [
    "BREACH_FLAGS",
    "DEFAULT_CONFIG",
    "INJECTED_FLAGS",
    "REGION_CONFIG",
    "ComponentUse",
    "DemoConfig",
    "DemoStream",
    "HospitalUse",
    "PlantedRecall",
    "RecalledUnit",
    "count_late",
    "generate",
]
