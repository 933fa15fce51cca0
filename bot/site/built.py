"""A built response: the exact bytes of a public page or feed in each content-coding we serve
(identity, gzip, brotli), each with its own strong ETag (a hash of those bytes) and the full
set of response headers, computed once when it is built. Serving it is a dictionary lookup."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import brotli

# Codings in order of preference when a client accepts several equally.
CODINGS = ("br", "gzip", "identity")
# Below this size compression saves less than its headers cost.
MIN_COMPRESS = 256
BROTLI_QUALITY = 5  # built per change, not per request, yet a cold feed is built on a request


@dataclass(frozen=True)
class Variant:
    body: bytes
    etag: str
    headers: dict[str, str]  # of a 200 (or the built status)
    not_modified: dict[str, str]  # of a 304: the validators and caching headers only


@dataclass(frozen=True)
class Built:
    status: int
    last_modified: datetime | None
    variants: dict[str, Variant]  # by content-coding

    @property
    def size(self) -> int:
        return sum(len(v.body) for v in self.variants.values())


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def build(
    body: bytes,
    content_type: str,
    *,
    status: int = 200,
    last_modified: datetime | None = None,
    headers: dict[str, str] | None = None,
    compress: bool = True,
) -> Built:
    """The response for `body` in every coding worth sending, with validators and headers.
    `headers` (caching, security) go on every variant and on its 304."""
    bodies = {"identity": body}
    if compress and len(body) >= MIN_COMPRESS:
        bodies["gzip"] = gzip.compress(body, compresslevel=6, mtime=0)
        bodies["br"] = brotli.compress(body, quality=BROTLI_QUALITY)
    common = dict(headers or {})
    common["Vary"] = "Accept-Encoding"
    if last_modified is not None:
        common["Last-Modified"] = http_date(last_modified)
    variants = {}
    for coding, data in bodies.items():
        tag = etag_of(data)
        conditional = {**common, "ETag": tag}
        full = {**conditional, "Content-Type": content_type}
        if coding != "identity":
            full["Content-Encoding"] = coding
        variants[coding] = Variant(data, tag, full, conditional)
    return Built(status, last_modified, variants)


def accepted(header: str) -> tuple[str, ...]:
    """The codings an Accept-Encoding header allows, best first (RFC 9110 §12.5.3): q=0
    refuses one; identity is acceptable unless refused (by name or by *;q=0)."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        name = "gzip" if name == "x-gzip" else name  # RFC 9110 §8.4.1.3
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
                if q != q:  # NaN
                    q = 0.0
        weights[name] = q
    star = weights.get("*")
    out = []
    for coding in CODINGS:
        q = weights.get(coding, star if star is not None else (1.0 if coding == "identity" else 0))
        if q > 0:
            out.append((q, -CODINGS.index(coding), coding))
    return tuple(c for _, _, c in sorted(out, reverse=True))
