"""XSD facets of a pyiso20022 document, checked on its object tree.

pyiso20022's models are xsdata dataclasses generated from the ISO 20022 XSDs: each field's
metadata carries the facets of its schema type. ``facet_violations`` walks a document (a parsed
or built tree of those dataclasses, through nested dataclasses and lists) and checks every facet
with XSD semantics:

* ``required`` — the element or attribute is there (not ``None``);
* ``min_occurs`` / ``max_occurs`` — how many times a repeated element occurs;
* ``pattern`` — the whole value matches the XSD regular expression (implicitly anchored, ``^`` and
  ``$`` plain characters), translated by ``elementpath``, the translator ``xmlschema`` uses;
* ``length`` / ``min_length`` / ``max_length`` — characters of a string, octets of binary data;
* ``total_digits`` / ``fraction_digits`` — digits of a decimal's value, counted as ``xmlschema``
  does (no leading zeros, no trailing zeros after the point: ``900.000000`` has 3 and 0);
* ``min_inclusive`` / ``max_inclusive`` / ``min_exclusive`` / ``max_exclusive`` — bounds.

Beyond the metadata: each value is of its field's type (an ``Enum`` member of its code list, a
dataclass of its component, ...), a decimal is finite (``xs:decimal`` has no NaN or infinity), and
a ``...Choice`` component has exactly one of its elements (ISO names its ``xs:choice`` types so,
and only those; xsdata keeps no trace of the choice). ``name``, ``namespace``, ``type`` and
``format`` (of base64 or hex binary) are how xsdata maps a field to XML. Any other metadata key,
field type or format, or a facet on a value it does not apply to, raises ``UnhandledMetadata``: a
facet is never skipped silently. The contents of an ``xs:any`` wildcard are not checked (ISO's
are ``processContents="lax"``).

A violation's ``path`` is an XPath of the offending element (``/@Ccy`` for an attribute) written
as ``xmlschema`` writes its errors' paths: ``[n]``, from 1, only among siblings of the same name.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
import types
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from elementpath.regex import translate_pattern
from xsdata.formats.dataclass.context import XmlContext
from xsdata.formats.dataclass.models.elements import XmlVar

MAPPING_KEYS = frozenset({"name", "namespace", "type", "format"})
"""How xsdata maps a field to XML: checked to be understood, not facets."""
XML_TYPES = frozenset({"Element", "Attribute", "Wildcard"})
BINARY_FORMATS = frozenset({"base64", "hex"})
OCCURS_KEYS = frozenset({"required", "min_occurs", "max_occurs"})
_SIZES: dict[str, Callable[[int, int], bool]] = {
    "length": operator.eq,
    "min_length": operator.ge,
    "max_length": operator.le,
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "min_inclusive": operator.ge,
    "max_inclusive": operator.le,
    "min_exclusive": operator.gt,
    "max_exclusive": operator.lt,
}
VALUE_FACETS = frozenset({"pattern", "total_digits", "fraction_digits", *_SIZES, *_BOUNDS})
HANDLED_KEYS = MAPPING_KEYS | OCCURS_KEYS | VALUE_FACETS
CHOICE = "Choice"
"""The suffix of the names of ISO 20022's ``xs:choice`` components."""

_CONTEXT = XmlContext()


class UnhandledMetadata(Exception):
    """A model carries field metadata this checker does not know how to check."""


@dataclasses.dataclass(frozen=True)
class Violation:
    path: str
    """The offending element or attribute (where a missing one would be)."""
    facet: str
    """The metadata key violated, ``type`` or ``choice``."""
    detail: str
    element: str
    """The element the XSD reports: the offending element itself, the owner of an attribute, the
    parent of a missing or extra element."""

    def __str__(self) -> str:
        return f"{self.path}: {self.facet}: {self.detail}"


class FacetViolations(AssertionError):
    """A document breaks facets: ``violations`` lists them all."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("\n".join(str(violation) for violation in violations))
        self.violations = violations


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    var: XmlVar
    metadata: Mapping[str, Any]


@functools.cache
def _pattern(xsd_pattern: str) -> re.Pattern[str]:
    return re.compile(
        translate_pattern(xsd_pattern, back_references=False, lazy_quantifiers=False, anchors=False)
    )


@functools.cache
def _fields(model: type) -> tuple[_Field, ...]:
    """The fields of ``model`` with their xsdata binding; ``UnhandledMetadata`` if one carries a
    metadata key or value this module cannot check."""
    variables = {var.name: var for var in _CONTEXT.build(model).get_all_vars()}
    fields = []
    for field in dataclasses.fields(model):
        where = f"{model.__module__}.{model.__qualname__}.{field.name}"
        unknown = set(field.metadata) - HANDLED_KEYS
        if unknown:
            raise UnhandledMetadata(f"{where}: metadata {sorted(unknown)} is not checked")
        kind = field.metadata.get("type")
        if kind is not None and kind not in XML_TYPES:
            raise UnhandledMetadata(f"{where}: field type {kind!r} is not checked")
        form = field.metadata.get("format")
        if form is not None and form not in BINARY_FORMATS:
            raise UnhandledMetadata(f"{where}: format {form!r} is not checked")
        if "pattern" in field.metadata:
            _pattern(field.metadata["pattern"])  # one elementpath cannot translate raises here
        fields.append(_Field(field.name, variables[field.name], field.metadata))
    return tuple(fields)


def check_model(module: types.ModuleType) -> set[str]:
    """Every dataclass of a generated ``module`` is checkable (``UnhandledMetadata`` if not);
    returns the metadata keys its fields use."""
    keys: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            if value.__module__ != module.__name__:
                continue
            _fields(value)
            keys.update(key for field in dataclasses.fields(value) for key in field.metadata)
    return keys


def facet_violations(document: object) -> list[Violation]:
    """Every facet violation in ``document`` (a pyiso20022 dataclass), in document order."""
    model = type(document)
    root = f"/{_CONTEXT.build(model).qname.rpartition('}')[2]}"
    return list(_node(document, root))


def check_facets(document: object) -> None:
    """Raises ``FacetViolations`` (an ``AssertionError``) listing every violation."""
    violations = facet_violations(document)
    if violations:
        raise FacetViolations(violations)


def _node(node: object, path: str) -> Iterator[Violation]:
    model: type = type(node)
    fields = _fields(model)
    if model.__name__.endswith(CHOICE):
        present = [field.var.local_name for field in fields if _present(node, field)]
        if len(present) != 1:
            chosen = ", ".join(present) or "none"
            yield Violation(path, "choice", f"{chosen}: not exactly one", path)
    for field in fields:
        yield from _field(field, getattr(node, field.name), path)


def _present(node: object, field: _Field) -> bool:
    value = getattr(node, field.name)
    return value is not None and value != []


def _field(field: _Field, value: object, parent: str) -> Iterator[Violation]:
    var, metadata = field.var, field.metadata
    if var.is_attribute:
        path = f"{parent}/@{var.local_name}"
    elif var.is_text:
        path = parent
    elif var.is_wildcard:
        path = f"{parent}/*"
    else:
        path = f"{parent}/{var.local_name}"

    def violation(facet: str, detail: str, at: str = path, reported: str = parent) -> Violation:
        return Violation(at, facet, detail, reported)

    items: list[object]
    if var.list_element:
        assert isinstance(value, list), f"{path}: a list field holds {value!r}"
        items = value
    else:
        items = [] if value is None else [value]
    if metadata.get("required") and value is None:
        yield violation("required", "missing")
    minimum, maximum = metadata.get("min_occurs"), metadata.get("max_occurs")
    if minimum is not None and len(items) < minimum:
        yield violation("min_occurs", f"{len(items)} < {minimum}")
    if maximum is not None and len(items) > maximum:
        yield violation("max_occurs", f"{len(items)} > {maximum}")
    if var.is_wildcard:
        return  # processContents="lax": not checked
    for number, item in enumerate(items, start=1):
        at = f"{path}[{number}]" if len(items) > 1 else path
        # the XSD reports a value's facets at the element itself, an attribute's at its owner
        reported = parent if var.is_attribute or var.is_text else at
        if not isinstance(item, tuple(var.types)):
            names = ", ".join(kind.__name__ for kind in var.types)
            yield violation("type", f"{item!r} is not a {names}", at, reported)
            continue
        if dataclasses.is_dataclass(item):
            yield from _node(item, at)
            continue
        if isinstance(item, Decimal) and not item.is_finite():
            yield violation("type", f"{item} is not an xs:decimal", at, reported)
            continue
        for facet in sorted(VALUE_FACETS & metadata.keys()):
            detail = _value_violation(facet, item, metadata[facet])
            if detail is not None:
                yield violation(facet, f"{detail} ({facet} {metadata[facet]!r})", at, reported)


def _value_violation(facet: str, value: object, limit: Any) -> str | None:
    """What is wrong with ``value`` under ``facet`` (one of ``VALUE_FACETS``), or ``None``."""
    unhandled = UnhandledMetadata(f"{facet} on {value!r} ({type(value).__name__})")
    if facet == "pattern":
        if not isinstance(value, str):
            raise unhandled
        return None if _pattern(limit).match(value) else f"{value!r} does not match {limit!r}"
    if facet in _SIZES:
        if not isinstance(value, str | bytes):
            raise unhandled
        # characters of a string, octets of (hex or base64) binary data
        return None if _SIZES[facet](len(value), limit) else f"length {len(value)}"
    if isinstance(value, Enum | bool):
        raise unhandled
    if facet in _BOUNDS:
        try:
            return None if _BOUNDS[facet](value, limit) else f"{value} is out of bounds"
        except TypeError:
            raise unhandled from None
    if not isinstance(value, Decimal | int):
        raise unhandled
    total, fraction = _digits(Decimal(value))
    digits = total if facet == "total_digits" else fraction
    return None if digits <= limit else f"{value} has {digits}"


def _digits(value: Decimal) -> tuple[int, int]:
    """The digits of a finite decimal's value: in all, and after the point (``xmlschema``'s count:
    no leading zeros, no trailing zeros after the point; a positive exponent's zeros count)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if exponent >= 0:
        integral, fraction = text + "0" * exponent, ""
    else:
        text = text.rjust(-exponent, "0")
        integral, fraction = text[:exponent], text[exponent:].rstrip("0")
    return len(integral.lstrip("0")) + len(fraction), len(fraction)
