"""The stored-event transcoder: the library's JSON format, written by ``orjson``.

The library's ``JSONTranscoder`` spends about a fifth of the ingest path in
Python's ``json`` module, calling back into Python for every datetime and for
every decoded object. This transcoder writes and reads the *same bytes*
(compact separators, UTF-8, ``{"_type_": ..., "_data_": ...}`` for the
registered types), so stores written by either read back with either; only
the speed differs. ``orjson`` serialises ``UUID`` values natively (as plain
strings, which would read back as ``str``): the ledger's events hold none,
and ``tests/unit/test_transcoder.py`` checks every stored event type.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonTranscoder(JSONTranscoder):
    """A ``JSONTranscoder`` (same registrations, same format) backed by ``orjson``."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)

    def decode(self, data: bytes) -> Any:
        return self._decoded(orjson.loads(data))

    def _decoded(self, value: Any) -> Any:
        """Innermost first, as ``json``'s ``object_hook`` would see them."""
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict and self._is_flat(item):
                    value[key] = self.names[item["_type_"]].decode(item["_data_"])  # a datetime
                elif type(item) is dict or type(item) is list:
                    value[key] = self._decoded(item)
            return self._decode_obj(value) if "_type_" in value else value
        if type(value) is list:
            return [self._decoded(item) for item in value]
        return value

    def _is_flat(self, item: dict[str, Any]) -> bool:
        """``{"_type_": <a registered name>, "_data_": <not a container>}``."""
        data = item.get("_data_")
        return (
            len(item) == 2
            and item.get("_type_") in self.names
            and type(data) is not dict
            and type(data) is not list
        )
