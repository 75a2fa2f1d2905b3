"""A council's own taxonomies: published in its Open Referral feed beside the national ones.

A council loads each of its taxonomies from an Open Referral UK ``taxonomy`` document (the
profile's ``taxonomy.json``: ``id``, ``name``, ``description``, optional ``uri`` and
``version``, and its ``taxonomy_terms``, each with ``id``, ``name``, ``description``, the
``term`` itself, and optional ``parent_id`` and ``term_uri``). A file may hold one taxonomy, a
list of them, or a page of them (``contents``).

The document is the whole taxonomy: loading it again updates the taxonomy and terms it names
(keyed on the document's ids, so a renamed term keeps the offers tagged with it), adds the new
ones and removes the terms it no longer has (untagging the offers that had them). All or
nothing: one problem anywhere refuses the whole file, and the problems are named by where they
are (``[0].taxonomy_terms[2].name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Council
from models.audit import append_event
from models.openreferral import CouncilTaxonomy, CouncilTaxonomyTerm, offer_council_terms
from web.services.errors import InvalidInput
from web.services.openreferral import COUNCIL_TAXONOMY, COUNCIL_TERM, TAXONOMIES, record_id
from web.services.words import count

NAME_MAX = 200
ID_MAX = 200
URI_MAX = 500
VERSION_MAX = 50
TEXT_MAX = 5000
MAX_TERMS = 2000
# Control characters, and half a surrogate pair (JSON may hold "\ud800"), which no database
# can store as text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass
class TaxonomyChange:
    """What loading did to one taxonomy."""

    name: str
    result: str  # "created", "updated" or "unchanged"
    added: int = 0
    changed: int = 0
    removed: int = 0

    def line(self) -> str:
        terms = f"{self.added} terms added, {self.changed} changed, {self.removed} removed"
        return f"{self.result} taxonomy {self.name!r}: {terms}"

    def sentence(self) -> str:
        """What happened, in a sentence for the commissioner's page."""
        if self.result == "unchanged":
            return f"{self.name} was already the same, so nothing changed."
        parts = [
            f"{count(n, 'term')} {word}"
            for n, word in (
                (self.added, "added"),
                (self.changed, "changed"),
                (self.removed, "taken away"),
            )
            if n
        ]
        done = "is published" if self.result == "created" else "is updated"
        if not parts:
            return f"{self.name} {done}."
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"{self.name} {done}: {listed}."


@dataclass(frozen=True)
class TermView:
    """One term of a council taxonomy as its page shows it, with the terms under it."""

    public_id: str
    name: str
    code: str
    description: str
    offers: int  # offers tagged with it
    children: list[TermView]


@dataclass(frozen=True)
class TaxonomyView:
    """One of the council's own taxonomies, for its page."""

    public_id: str
    name: str
    description: str
    uri: str | None
    version: str | None
    terms: list[TermView]  # the top of the tree, in the file's order
    term_count: int


def taxonomy_documents(document: Any) -> list[Any]:
    """The taxonomies in a file: one, a list, or a page (``contents``)."""
    if isinstance(document, Mapping) and isinstance(document.get("contents"), list):
        return list(document["contents"])
    if isinstance(document, list):
        return document
    return [document]


def _text(
    record: Mapping[str, Any],
    name: str,
    where: str,
    errors: dict[str, str],
    *,
    limit: int,
    required: bool = True,
) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[f"{where}{name}"] = f"Give the {name}: it is needed"
        return None
    if not isinstance(value, str):
        errors[f"{where}{name}"] = f"The {name} must be text"
        return None
    text = value.strip()
    if len(text) > limit:
        errors[f"{where}{name}"] = f"The {name} must be {limit} characters or fewer"
        return None
    if _CONTROL.search(text):
        errors[f"{where}{name}"] = f"The {name} has characters that cannot be shown"
        return None
    return text


def _uri(record: Mapping[str, Any], name: str, where: str, errors: dict[str, str]) -> str | None:
    value = _text(record, name, where, errors, limit=URI_MAX, required=False)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or not value.isascii():
        errors[f"{where}{name}"] = (
            f"The {name} must be a whole web address in plain letters, like "
            "https://example.org/taxonomy"
        )
        return None
    if " " in value:
        errors[f"{where}{name}"] = f"The {name} must not have spaces"
        return None
    return value


@dataclass
class _Term:
    source_id: str
    code: str
    name: str
    description: str
    parent: str | None
    term_uri: str | None
    at: int = 0  # its place in the file's list of terms, to name it in a problem


@dataclass
class _Taxonomy:
    source_id: str
    name: str
    description: str
    uri: str | None
    version: str | None
    terms: list[_Term]


def _read_taxonomy(record: Any, where: str, errors: dict[str, str]) -> _Taxonomy | None:
    if not isinstance(record, Mapping):
        errors[where.rstrip(".") or "taxonomy"] = "Each taxonomy must be a JSON object"
        return None
    start = len(errors)
    source_id = _text(record, "id", where, errors, limit=ID_MAX)
    name = _text(record, "name", where, errors, limit=NAME_MAX)
    description = _text(record, "description", where, errors, limit=TEXT_MAX, required=False)
    uri = _uri(record, "uri", where, errors)
    version = _text(record, "version", where, errors, limit=VERSION_MAX, required=False)
    if name is not None and name.casefold() in {n.casefold() for n, _ in TAXONOMIES.values()}:
        errors[f"{where}name"] = f"{name!r} is a national taxonomy's name: give yours another"
    raw_terms = record.get("taxonomy_terms", [])
    if not isinstance(raw_terms, list):
        errors[f"{where}taxonomy_terms"] = "The taxonomy's terms must be a list"
        raw_terms = []
    if len(raw_terms) > MAX_TERMS:
        errors[f"{where}taxonomy_terms"] = f"A taxonomy may have {MAX_TERMS} terms at most"
        raw_terms = []
    terms: list[_Term] = []
    seen_ids: dict[str, int] = {}
    seen_codes: dict[str, int] = {}
    for n, raw in enumerate(raw_terms):
        at = f"{where}taxonomy_terms[{n}]."
        if not isinstance(raw, Mapping):
            errors[at.rstrip(".")] = "Each term must be a JSON object"
            continue
        term_id = _text(raw, "id", at, errors, limit=ID_MAX)
        term_name = _text(raw, "name", at, errors, limit=NAME_MAX)
        code = _text(raw, "term", at, errors, limit=NAME_MAX, required=False)
        code = code or _text(raw, "code", at, errors, limit=NAME_MAX, required=False) or term_name
        term_description = _text(raw, "description", at, errors, limit=TEXT_MAX, required=False)
        parent = _text(raw, "parent_id", at, errors, limit=ID_MAX, required=False)
        term_uri = _uri(raw, "term_uri", at, errors)
        if term_id is not None:
            if term_id in seen_ids:
                errors[f"{at}id"] = f"Term {seen_ids[term_id] + 1} has this id too"
            seen_ids.setdefault(term_id, n)
        if code is not None:
            if code in seen_codes:
                errors[f"{at}term"] = f"Term {seen_codes[code] + 1} is this term too"
            seen_codes.setdefault(code, n)
        if term_id and term_name and code:
            terms.append(
                _Term(term_id, code, term_name, term_description or "", parent, term_uri, n)
            )
    for term in terms:
        if term.parent is not None and (
            term.parent not in seen_ids or term.parent == term.source_id
        ):
            errors[f"{where}taxonomy_terms[{term.at}].parent_id"] = (
                "The parent must be another term of the same taxonomy"
            )
    if len(errors) == start and _has_cycle(terms):
        errors[f"{where}taxonomy_terms"] = "The terms' parents go round in a circle"
    if len(errors) > start or source_id is None or name is None:
        return None
    return _Taxonomy(source_id, name, description or "", uri, version, terms)


def _has_cycle(terms: list[_Term]) -> bool:
    parent = {t.source_id: t.parent for t in terms}
    for start in parent:
        seen = set()
        at: str | None = start
        while at is not None:
            if at in seen:
                return True
            seen.add(at)
            at = parent.get(at)
    return False


def load_taxonomies(
    session: Session,
    council: Council,
    document: Any,
    *,
    actor_user_id: int | None = None,
    request_id: str | None = None,
) -> list[TaxonomyChange]:
    """Create or update the council's taxonomies in ``document``; InvalidInput names every
    problem, and then nothing changes."""
    records = taxonomy_documents(document)
    errors: dict[str, str] = {}
    if not records:
        raise InvalidInput({"taxonomy": "The file has no taxonomy in it"})
    read: list[_Taxonomy] = []
    for n, record in enumerate(records):
        where = f"[{n}]." if len(records) > 1 or isinstance(document, list) else ""
        taxonomy = _read_taxonomy(record, where, errors)
        if taxonomy is not None:
            read.append(taxonomy)
    first_name: dict[str, int] = {}
    first_id: dict[str, int] = {}
    for n, taxonomy in enumerate(read):
        named = first_name.setdefault(taxonomy.name.casefold(), n)
        if named != n or first_id.setdefault(taxonomy.source_id, n) != n:
            errors[f"[{n}].name"] = "Another taxonomy in the file has this name or id"
    ids = set(first_id)
    if errors:
        raise InvalidInput(errors)
    existing = {
        t.source_id: t
        for t in session.scalars(
            select(CouncilTaxonomy)
            .where(CouncilTaxonomy.council_id == council.id)
            .options(selectinload(CouncilTaxonomy.terms))
        )
    }
    for n, taxonomy in enumerate(read):
        clash = next(
            (
                t
                for t in existing.values()
                if t.name.casefold() == taxonomy.name.casefold()
                and t.source_id != taxonomy.source_id
            ),
            None,
        )
        if clash is not None and clash.source_id not in ids:
            errors[f"[{n}].name" if len(records) > 1 else "name"] = (
                f"The council already has a taxonomy called {clash.name!r} with another id"
            )
    if errors:
        raise InvalidInput(errors)
    changes = [_save(session, council, existing.get(t.source_id), t) for t in read]
    session.flush()
    for change in changes:
        if change.result != "unchanged":
            append_event(
                session,
                f"council_taxonomy.{change.result}",
                actor_user_id=actor_user_id,
                object_type="council",
                object_id=council.id,
                request_id=request_id,
                details={
                    "taxonomy": change.name,
                    "added": change.added,
                    "changed": change.changed,
                    "removed": change.removed,
                },
            )
    return changes


def _save(
    session: Session, council: Council, taxonomy: CouncilTaxonomy | None, read: _Taxonomy
) -> TaxonomyChange:
    change = TaxonomyChange(read.name, "unchanged")
    if taxonomy is None:
        taxonomy = CouncilTaxonomy(council_id=council.id, source_id=read.source_id)
        session.add(taxonomy)
        change.result = "created"
        taxonomy.terms = []
    fields = {
        "name": read.name,
        "description": read.description,
        "uri": read.uri,
        "version": read.version,
    }
    for name, value in fields.items():
        if getattr(taxonomy, name) != value:
            setattr(taxonomy, name, value)
            if change.result == "unchanged":
                change.result = "updated"
    by_source = {t.source_id: t for t in taxonomy.terms}
    keep = {t.source_id for t in read.terms}
    for term in list(taxonomy.terms):
        if term.source_id not in keep:
            taxonomy.terms.remove(term)
            change.removed += 1
    # Codes are unique in a taxonomy: first give the terms that change their code one no
    # stored code can clash with, so that terms may swap codes (or take a new term's) at once.
    for read_term in read.terms:
        term = by_source.get(read_term.source_id)
        if term is not None and term.code != read_term.code:
            # A control character: no code read from a file has one (and PostgreSQL text may
            # not hold \x00).
            term.code = f"\x01{term.id}"
    session.flush()
    touched: set[str] = set()
    for position, read_term in enumerate(read.terms):
        term = by_source.get(read_term.source_id)
        values = {
            "code": read_term.code,
            "name": read_term.name,
            "description": read_term.description,
            "term_uri": read_term.term_uri,
            "position": position,
        }
        if term is None:
            taxonomy.terms.append(CouncilTaxonomyTerm(source_id=read_term.source_id, **values))
            change.added += 1
            touched.add(read_term.source_id)
        elif any(getattr(term, k) != v for k, v in values.items()):
            for k, v in values.items():
                if k != "code":
                    setattr(term, k, v)
            change.changed += 1
            touched.add(read_term.source_id)
    session.flush()
    by_source = {t.source_id: t for t in taxonomy.terms}
    for read_term in read.terms:
        term = by_source[read_term.source_id]
        term.code = read_term.code
        parent = by_source[read_term.parent].id if read_term.parent else None
        if term.parent_id != parent:
            term.parent_id = parent
            if read_term.source_id not in touched:
                change.changed += 1
                touched.add(read_term.source_id)
    if change.result == "unchanged" and (change.added or change.changed or change.removed):
        change.result = "updated"
    return change


def council_term_options(session: Session, council_id: int) -> list[tuple[str, str]]:
    """The council's own terms to tag an offer with: (public id, "Taxonomy: term name")."""
    rows = session.execute(
        select(CouncilTaxonomyTerm.id, CouncilTaxonomy.name, CouncilTaxonomyTerm.name)
        .join(CouncilTaxonomy)
        .where(CouncilTaxonomy.council_id == council_id)
        .order_by(CouncilTaxonomy.name, CouncilTaxonomy.id, CouncilTaxonomyTerm.position)
    )
    return [(record_id(COUNCIL_TERM, pk), f"{taxonomy}: {name}") for pk, taxonomy, name in rows]


def council_taxonomies(session: Session, council: Council) -> list[TaxonomyView]:
    """The council's own taxonomies by name, each with its tree of terms and how many offers
    each term tags."""
    taxonomies = list(
        session.scalars(
            select(CouncilTaxonomy)
            .where(CouncilTaxonomy.council_id == council.id)
            .options(selectinload(CouncilTaxonomy.terms))
            .order_by(CouncilTaxonomy.name, CouncilTaxonomy.id)
        )
    )
    tagged = dict(
        session.execute(
            select(offer_council_terms.c.term_id, func.count())
            .join(CouncilTaxonomyTerm, CouncilTaxonomyTerm.id == offer_council_terms.c.term_id)
            .join(CouncilTaxonomy)
            .where(CouncilTaxonomy.council_id == council.id)
            .group_by(offer_council_terms.c.term_id)
        ).all()
    )

    def tree(
        under: dict[int | None, list[CouncilTaxonomyTerm]], parent: int | None
    ) -> list[TermView]:
        return [
            TermView(
                record_id(COUNCIL_TERM, t.id),
                t.name,
                t.code,
                t.description,
                tagged.get(t.id, 0),
                tree(under, t.id),
            )
            for t in under.get(parent, [])
        ]

    out = []
    for taxonomy in taxonomies:
        terms = sorted(taxonomy.terms, key=lambda t: t.position)
        under: dict[int | None, list[CouncilTaxonomyTerm]] = {}
        for term in terms:
            under.setdefault(term.parent_id, []).append(term)
        out.append(
            TaxonomyView(
                record_id(COUNCIL_TAXONOMY, taxonomy.id),
                taxonomy.name,
                taxonomy.description,
                taxonomy.uri,
                taxonomy.version,
                tree(under, None),
                len(terms),
            )
        )
    return out


def problem_place(field: str) -> str:
    """Where in the file a problem of :func:`load_taxonomies` is, in words: ``[1].taxonomy_terms
    [2].name`` is "Taxonomy 2, term 3, its name"."""
    words: list[str] = []
    rest = field
    while rest:
        if match := re.match(r"\[(\d+)\]\.?", rest):
            words.append(f"Taxonomy {int(match.group(1)) + 1}")
        elif match := re.match(r"taxonomy_terms\[(\d+)\]\.?", rest):
            words.append(f"term {int(match.group(1)) + 1}")
        elif rest in ("taxonomy", "taxonomy_terms"):
            words.append("its terms" if rest == "taxonomy_terms" else "the file")
            break
        else:
            words.append(f"its {rest.rstrip('.')}")
            break
        rest = rest[match.end() :]
    text = ", ".join(words) or "the file"
    return text[0].upper() + text[1:]
