"""Wire formats: XML or JSON both ways, Pacific-time dates, the optional byte-order mark.

Newegg picks the format from ``Accept`` and ``Content-Type`` and defaults to XML (shoplazza_
newegg.md §B1). The sandbox answers JSON when ``Accept`` names JSON, or when ``Accept`` names
neither JSON nor XML (absent, ``*/*``) and the request's ``Content-Type`` is JSON; otherwise XML.
Request bodies are parsed by ``Content-Type``, or sniffed (``<`` XML, else JSON) without one.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from fastapi import Request, Response

BOM = "\ufeff".encode()
# XML element names for the members of list-valued fields.
LIST_MEMBER = {
    "Errors": "Error",
    "OrderInfoList": "OrderInfo",
    "ItemInfoList": "ItemInfo",
    "PackageInfoList": "PackageInfo",
    "OrderNumberList": "OrderNumber",
}


def _pacific() -> tzinfo:
    try:
        return ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no tz database: standard time all year
        return timezone(timedelta(hours=-8))


PACIFIC = _pacific()


def now_utc() -> datetime:
    return datetime.now(UTC)


def pacific_date(moment: datetime) -> str:
    """Newegg's ``2/22/2012 16:37:20``, Pacific time."""
    local = moment.astimezone(PACIFIC)
    return f"{local.month}/{local.day}/{local.year} {local:%H:%M:%S}"


def reset_time(moment: datetime) -> str:
    """``X-RateLimit-ResetTime`` as a public client parses it: ``M/dd/yyyy h:mm:ss tt``."""
    local = moment.astimezone(PACIFIC)
    hour = local.hour % 12 or 12
    return f"{local.month}/{local.day:02d}/{local.year} {hour}:{local:%M:%S %p}"


def parse_pacific(text: str) -> datetime | None:
    """``2019-05-01 00:00:00`` (Get Order Information's criteria) or ISO-8601, Pacific unless
    an offset is given."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=PACIFIC)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    if "json" in accept:
        return True
    if "xml" in accept:
        return False
    return "json" in request.headers.get("content-type", "").lower()


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, member in value.items():
            _fill(ET.SubElement(element, name), member)
    elif isinstance(value, list):
        member_name = LIST_MEMBER.get(element.tag, "Item")
        for member in value:
            _fill(ET.SubElement(element, member_name), member)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def render(
    request: Request,
    status: int,
    root: str,
    body: Any,
    *,
    bom: bool,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_json(request):
        content = (BOM if bom else b"") + orjson.dumps(body)
        media_type = "application/json; charset=utf-8"
    else:
        content = to_xml(root, body)
        media_type = "application/xml; charset=utf-8"
    return Response(content, status_code=status, headers=headers, media_type=media_type)


def _from_xml(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: dict[str, Any] = {}
    for child in children:
        value = _from_xml(child)
        if child.tag not in result:
            result[child.tag] = value
        elif isinstance(result[child.tag], list):
            result[child.tag].append(value)
        else:
            result[child.tag] = [result[child.tag], value]
    return result


def parse_body(raw: bytes, content_type: str) -> Any:
    """The request body as JSON-like data (an XML root element becomes its children's dict);
    None if empty; raises ValueError if malformed."""
    text = raw.decode("utf-8-sig").strip()
    if not text:
        return None
    kind = content_type.lower()
    if "xml" in kind or ("json" not in kind and text.startswith("<")):
        try:
            return _from_xml(ET.fromstring(text))
        except ET.ParseError as error:
            raise ValueError(str(error)) from None
    return json.loads(text)
