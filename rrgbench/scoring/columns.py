"""Per-sample statistics stored by column: :class:`StatsTable`, a read-only sequence of dicts.

A metric's ``sample_stats`` returns one JSON-able dict per pair. For 100k pairs, Python dicts, lists and
Counters cost kilobytes per pair; the engine therefore packs each chunk of them into columns and hands
the metric a :class:`StatsTable`. Indexing or iterating it rebuilds each dict with the same keys, order,
types and values (ints stay ints, floats round-trip exactly, ``None`` stays ``None``), so any metric code
written for a list of dicts works unchanged; a metric that knows the table reads whole columns at once
(:func:`array`, :func:`strings`, :meth:`StatsTable.sparse`).

Column kinds, chosen per column from the values (anything else is kept as the Python objects):

``int`` / ``float``   one number per row → int64 / float64 array
``ivec`` / ``fvec``   a list of a fixed length of ints / floats → 2-D int64 / float64 array
``ivec?``             a list of a fixed length of ints or ``None`` → int64 array and a None mask
``str``               a string → list of str
``strs``              a list of strings → one vocabulary, int32 ids and row offsets
``counts``            a dict string → int (a Counter) → vocabulary, ids, int64 counts and offsets
``obj``               anything else, or rows whose keys differ → the values as given
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _is_int(v: Any) -> bool:
    return type(v) is int and _INT64[0] <= v <= _INT64[1]


@dataclass
class _Column:
    kind: str
    data: Any = None  # array or list
    mask: np.ndarray | None = None  # ivec?: True where the value is None
    vocab: list[str] | None = None  # strs / counts
    offsets: np.ndarray | None = None  # strs / counts: row i is ids[offsets[i]:offsets[i + 1]]
    counts: np.ndarray | None = None  # counts

    def get(self, i: int) -> Any:
        kind = self.kind
        if kind == "int":
            return int(self.data[i])
        if kind == "float":
            return float(self.data[i])
        if kind in ("ivec", "fvec"):
            return self.data[i].tolist()
        if kind == "ivec?":
            return [None if m else v for v, m in zip(self.data[i].tolist(), self.mask[i].tolist())]
        if kind == "strs":
            vocab = self.vocab
            return [vocab[j] for j in self.data[self.offsets[i]:self.offsets[i + 1]].tolist()]
        if kind == "counts":
            vocab = self.vocab
            lo, hi = self.offsets[i], self.offsets[i + 1]
            return dict(zip([vocab[j] for j in self.data[lo:hi].tolist()], self.counts[lo:hi].tolist()))
        return self.data[i]  # str, obj


def _pack(values: list[Any]) -> _Column:
    """The most compact kind that gives back exactly ``values``."""
    first = values[0]
    if _is_int(first) and all(_is_int(v) for v in values):
        return _Column("int", np.array(values, np.int64))
    if type(first) is float and all(type(v) is float for v in values):
        return _Column("float", np.array(values, np.float64))
    if type(first) is str and all(type(v) is str for v in values):
        return _Column("str", list(values))
    if type(first) is list and all(type(v) is list for v in values):
        width = len(first)
        if width and all(len(v) == width for v in values):
            if all(_is_int(x) for v in values for x in v):
                return _Column("ivec", np.array(values, np.int64))
            if all(type(x) is float for v in values for x in v):
                return _Column("fvec", np.array(values, np.float64))
            if all(x is None or _is_int(x) for v in values for x in v):
                mask = np.array([[x is None for x in v] for v in values], bool)
                data = np.array([[0 if x is None else x for x in v] for v in values], np.int64)
                return _Column("ivec?", data, mask=mask)
        if all(type(x) is str for v in values for x in v):
            vocab: dict[str, int] = {}
            ids = [vocab.setdefault(x, len(vocab)) for v in values for x in v]
            return _Column("strs", np.array(ids, np.int32), vocab=list(vocab), offsets=_offsets(values))
    if type(first) is dict and all(type(v) is dict for v in values) and \
            all(type(k) is str and _is_int(c) for v in values for k, c in v.items()):
        vocab = {}
        ids = [vocab.setdefault(k, len(vocab)) for v in values for k in v]
        counts = np.fromiter((c for v in values for c in v.values()), np.int64, count=len(ids))
        return _Column("counts", np.array(ids, np.int32), vocab=list(vocab), offsets=_offsets(values),
                       counts=counts)
    return _Column("obj", list(values))


def _offsets(values: list[Any]) -> np.ndarray:
    out = np.zeros(len(values) + 1, np.int64)
    np.cumsum([len(v) for v in values], out=out[1:])
    return out


def _concat(cols: list[_Column]) -> _Column:
    kinds = {c.kind for c in cols}
    if kinds == {"ivec", "ivec?"}:  # lists of ints, some chunks with None: one masked column
        cols = [c if c.kind == "ivec?" else _Column("ivec?", c.data, mask=np.zeros(c.data.shape, bool)) for c in cols]
        kinds = {"ivec?"}
    if len(kinds) != 1:  # e.g. a chunk of ints and a chunk of floats: keep the values as they are
        return _Column("obj", [c.get(i) for c in cols for i in range(_length(c))])
    kind = cols[0].kind
    if kind in ("int", "float"):
        return _Column(kind, np.concatenate([c.data for c in cols]))
    if kind in ("ivec", "fvec", "ivec?"):
        if len({c.data.shape[1] for c in cols}) != 1:
            return _Column("obj", [c.get(i) for c in cols for i in range(_length(c))])
        mask = np.concatenate([c.mask for c in cols]) if kind == "ivec?" else None
        return _Column(kind, np.concatenate([c.data for c in cols]), mask=mask)
    if kind in ("strs", "counts"):
        vocab: dict[str, int] = {}
        ids, offsets, base = [], [np.zeros(1, np.int64)], 0
        for c in cols:
            remap = np.array([vocab.setdefault(w, len(vocab)) for w in c.vocab], np.int32)
            ids.append(remap[c.data] if len(c.data) else c.data)
            offsets.append(c.offsets[1:] + base)
            base += int(c.offsets[-1])
        counts = np.concatenate([c.counts for c in cols]) if kind == "counts" else None
        return _Column(kind, np.concatenate(ids).astype(np.int32), vocab=list(vocab),
                       offsets=np.concatenate(offsets), counts=counts)
    return _Column(kind, [v for c in cols for v in c.data])


def _length(c: _Column) -> int:
    return len(c.offsets) - 1 if c.offsets is not None else len(c.data)


class StatsTable(Sequence[dict[str, Any]]):
    """Per-sample statistics dicts stored by column (see the module docstring); read-only."""

    def __init__(self, n: int, keys: list[str] | None, columns: dict[str, _Column], rows: list[Any] | None = None
                 ) -> None:
        self._n, self._keys, self._columns, self._rows = n, keys, columns, rows

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> StatsTable:
        """Pack ``rows`` (dicts with the same keys in the same order; otherwise they are kept as given)."""
        rows = list(rows)
        if not rows or not all(type(r) is dict for r in rows):
            return cls(len(rows), None, {}, rows)
        keys = list(rows[0])
        if any(list(r) != keys for r in rows):
            return cls(len(rows), None, {}, rows)
        return cls(len(rows), keys, {k: _pack([r[k] for r in rows]) for k in keys})

    @classmethod
    def concat(cls, tables: Iterable[StatsTable]) -> StatsTable:
        """One table of the rows of ``tables`` in order."""
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls(0, None, {}, [])
        if len(tables) == 1:
            return tables[0]
        keys = tables[0]._keys
        if keys is None or any(t._keys != keys for t in tables):
            return cls(sum(len(t) for t in tables), None, {}, [r for t in tables for r in t])
        return cls(sum(len(t) for t in tables), keys, {k: _concat([t._columns[k] for t in tables]) for k in keys})

    def __len__(self) -> int:
        return self._n

    def _row(self, i: int) -> dict[str, Any]:
        if self._rows is not None:
            return self._rows[i]
        return {k: self._columns[k].get(i) for k in self._keys}  # type: ignore[union-attr]

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(self._n))]
        j = int(i)
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError("StatsTable index out of range")
        return self._row(j)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self._n):
            yield self._row(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != self._n:
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def kind(self, key: str) -> str | None:
        """The storage kind of column ``key`` (``None`` when the rows are kept as dicts)."""
        col = self._columns.get(key)
        return col.kind if col is not None else None

    def sparse(self, key: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
        """``(vocabulary, ids, values, offsets)`` of a ``strs`` (values 1) or ``counts`` column, else ``None``."""
        col = self._columns.get(key)
        if col is None or col.kind not in ("strs", "counts"):
            return None
        values = col.counts if col.kind == "counts" else np.ones(len(col.data), np.int64)
        return col.vocab, col.data, values, col.offsets  # type: ignore[return-value]

    def _raw(self, key: str) -> _Column | None:
        return self._columns.get(key)


def array(stats: Sequence[dict[str, Any]], key: str, dtype: Any = float) -> np.ndarray:
    """Column ``key`` as an array of ``dtype`` (``[n]`` or ``[n, width]``): the table's own array when
    ``stats`` is a :class:`StatsTable` of a numeric kind, else built from the dicts. Same values either way."""
    if isinstance(stats, StatsTable):
        col = stats._raw(key)
        if col is not None and col.kind in ("int", "float", "ivec", "fvec"):
            return col.data.astype(dtype, copy=False)
    return np.array([s[key] for s in stats], dtype)


def strings(stats: Sequence[dict[str, Any]], key: str) -> list[str]:
    """Column ``key`` of string values as a list (no dicts built for a :class:`StatsTable`)."""
    if isinstance(stats, StatsTable):
        col = stats._raw(key)
        if col is not None and col.kind in ("str", "obj"):
            return list(col.data)
    return [s[key] for s in stats]


def pack(rows: Sequence[dict[str, Any]], chunk: int = 10_000) -> StatsTable:
    """A :class:`StatsTable` of ``rows`` (packed ``chunk`` rows at a time); a table is returned as is."""
    if isinstance(rows, StatsTable):
        return rows
    return StatsTable.concat(StatsTable.from_rows(rows[s:s + chunk]) for s in range(0, len(rows), chunk))
