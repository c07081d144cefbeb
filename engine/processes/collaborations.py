"""What one BPMN file deploys: each executable process, or a collaboration as one process (#16).

A file whose collaboration has two or more executable pools deploys as **one** process key, the
collaboration's id: every case runs all its executable pools together (SpiffWorkflow's
`get_collaboration`: each pool a sub-process started with the case), so the message flows
between the pools are delivered inside the case. The process properties (case prefix, start
groups ...), the start form and the name come from the *main* pool: the first executable pool
whose start event is not a message start event (the one a person starts), else the first.
A pool that is not executable is documentation: it is drawn, never run. A collaboration with
one executable pool deploys that pool's process under its own id, as a file without one would.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.processes import bpmn_xml

NS = bpmn_xml.NS


@dataclass(frozen=True)
class Unit:
    """One deployable process of a file: its key, the process element whose properties it takes,
    and, for a collaboration, the collaboration element and the ids of its executable pools."""

    key: str
    process: etree._Element
    collaboration: etree._Element | None = None
    members: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if self.collaboration is not None and self.collaboration.get("name"):
            return str(self.collaboration.get("name"))
        return str(self.process.get("name") or self.key)


def _starts_by_message(process: etree._Element) -> bool:
    starts = process.xpath("./bpmn:startEvent", namespaces=NS)
    return bool(starts) and all(s.xpath("./bpmn:messageEventDefinition", namespaces=NS) for s in starts)


def units(tree: etree._ElementTree) -> list[Unit]:
    """The deployable processes of a BPMN file, in file order."""
    root = tree.getroot()
    executable = {p.get("id"): p for p in root.xpath("//bpmn:process[@isExecutable='true']", namespaces=NS)}
    taken: set[str] = set()
    out: list[Unit] = []
    # SpiffWorkflow reads the first collaboration of a file (BpmnParser.collaborations): so do we.
    for collaboration in root.xpath("//bpmn:collaboration", namespaces=NS)[:1]:
        refs = [p.get("processRef") for p in collaboration.xpath("./bpmn:participant", namespaces=NS)]
        pools = [executable[r] for r in dict.fromkeys(refs) if r in executable]
        if len(pools) < 2 or not collaboration.get("id"):
            continue
        main = next((p for p in pools if not _starts_by_message(p)), pools[0])
        out.append(Unit(str(collaboration.get("id")), main, collaboration, tuple(str(p.get("id")) for p in pools)))
        taken |= {str(p.get("id")) for p in pools}
    out += [Unit(str(key), process) for key, process in executable.items() if key not in taken]
    return out
