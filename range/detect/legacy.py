"""Sigma 1 aggregations (``selection | count(field) by group > n``), rewritten as a base rule plus a
Sigma correlation rule, which :mod:`range.detect.correlate` evaluates in linear time."""
from __future__ import annotations

import copy
import re
import uuid

from range.core import InputError

_LEGACY = re.compile(r"^\s*(?P<search>.+?)\s*\|\s*(?P<fn>count|sum|avg)\(\s*(?P<field>[^)\s]*)\s*\)\s*"
                     r"(?:by\s+(?P<group>[\w.\-]+)\s*)?(?P<op>>=|<=|==|!=|>|<|=)\s*(?P<n>\d+(?:\.\d+)?)\s*$")
_OPNAME = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq", "!=": "neq"}


def legacy_aggregation(doc: dict, file: str) -> list[dict]:
    """``selection | count(field) by group > n`` (Sigma 1 aggregation) as a base rule plus a correlation."""
    det = doc.get("detection")
    cond = det.get("condition") if isinstance(det, dict) else None
    cond = cond[0] if isinstance(cond, list) and len(cond) == 1 else cond
    m = _LEGACY.match(cond) if isinstance(cond, str) else None
    if m is None:
        if isinstance(cond, str) and re.search(r"\b(count|sum|avg|min|max)\s*\(", cond):
            raise InputError(f"legacy aggregation '{cond}' cannot be expressed as a correlation here: "
                             "use 'search | count(field) by field > n' or write a Sigma correlation rule")
        return [doc]
    if "timeframe" not in det:
        raise InputError(
            f"legacy aggregation '{cond}' has no timeframe: write it as a Sigma correlation with a timespan"
        )
    rid = str(doc.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{file}:{doc.get('title')}"))
    base = copy.deepcopy(doc)
    base["detection"] = {k: v for k, v in det.items() if k != "timeframe"} | {"condition": m["search"]}
    base.update(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, rid + "/search")),
        name=f"{rid}-search",
        title=f"{doc.get('title', rid)} (search)",
    )
    kind = {"count": "value_count" if m["field"] else "event_count", "sum": "value_sum", "avg": "value_avg"}[m["fn"]]
    n = float(m["n"]) if "." in m["n"] else int(m["n"])
    corr = {k: doc[k] for k in ("title", "description", "status", "level", "author", "date", "tags") if k in doc}
    corr["id"] = rid
    corr["correlation"] = {
        "type": kind,
        "rules": [base["name"]],
        "timespan": str(det["timeframe"]),
        "condition": {_OPNAME[m["op"]]: n} | ({"field": m["field"]} if m["field"] else {}),
    }
    if m["group"]:
        corr["correlation"]["group-by"] = [m["group"]]
    return [base, corr]
