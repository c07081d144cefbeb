"""Operations service providers and the systems each one is responsible for."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidData, said
from engine.records import audit
from engine.timing import clock
from models import Provider, ProviderSystem, User


def add_provider(session: Session, name: str, systems: list[str], *, actor: User | None) -> Provider:
    """Register a provider (or add systems to it); a system has exactly one provider."""
    name = (name or "").strip()
    if not name:
        raise InvalidData(said("provider name is required"), {"name": [said("required")]})
    provider = session.scalars(select(Provider).where(Provider.name == name)).first()
    if provider is None:
        provider = Provider(name=name, created_at=clock.now(), systems=[])
        session.add(provider)
        session.flush()
    for system in dict.fromkeys(s.strip() for s in systems if s.strip()):
        owner = session.scalars(select(ProviderSystem).where(ProviderSystem.system == system)).first()
        if owner is not None and owner.provider_id != provider.id:
            raise Conflict(said("system %(system)s is already served by provider %(provider)s", system=repr(system),
                                provider=repr(owner.provider.name)))
        if owner is None:
            provider.systems.append(ProviderSystem(system=system))
    session.flush()
    audit.append_system(session, actor=actor, type="provider_added",
                        data={"provider": name, "systems": [s.system for s in provider.systems]})
    return provider


def provider_for_system(session: Session, system: str | None) -> str | None:
    """Name the provider responsible for a system, or None."""
    if not system:
        return None
    row = session.scalars(select(ProviderSystem).where(ProviderSystem.system == system)).first()
    return row.provider.name if row is not None else None


def list_systems(session: Session) -> list[tuple[str, str]]:
    """Every registered system with its provider's name, by system."""
    rows = session.execute(select(ProviderSystem.system, Provider.name)
                           .join(Provider, Provider.id == ProviderSystem.provider_id).order_by(ProviderSystem.system))
    return [(system, name) for system, name in rows]
