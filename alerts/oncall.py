"""On-call: who is on duty now, and whom each escalation step notifies.

A person is reached through the step's `via` channels: an e-mail channel sends to their
address, a Telegram channel (its bot) to their chat id, a Zalo ZNS channel to their (mobile)
phone; a person without that contact is skipped on that channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ioc.config.channels import vn_phone
from ioc.config.model import ProvinceConfig
from ioc.config.oncall import EscalationStep, Person


@dataclass(frozen=True)
class Recipient:
    """One destination of a notification: a channel, and an address overriding its default."""

    channel: str
    recipient: str = ""  # '' = the channel's configured chat/addresses
    level: int = 0       # 0 = the route's channels; n = escalation step n
    person: str = ""


def oncall_now(cfg: ProvinceConfig, now: datetime) -> list[dict[str, Any]]:
    """Who is on call in each rotation at `now` (for the API and the wall)."""
    tz = cfg.province.tz
    result = []
    for rotation in cfg.oncall.rotations:
        person = cfg.oncall.on_call(rotation.id, now, tz)
        scheduled = rotation.scheduled(now, tz)
        result.append({"rotation": rotation.id, "rotation_name": rotation.name,
                       "person": person.id, "name": person.name, "email": person.email,
                       "phone": person.phone, "override": person.id != scheduled})
    return result


def person_recipients(cfg: ProvinceConfig, person: Person, via: tuple[str, ...],
                      level: int) -> list[Recipient]:
    """The `via` channels that can reach one person, each with the person's address."""
    found = []
    for name in via:
        channel = cfg.channel(name)
        address = {"email": person.email, "telegram": person.telegram_chat_id,
                   "zalo_zns": vn_phone(person.phone or "")}.get(channel.kind)
        if address:
            found.append(Recipient(name, address, level, person.id))
    return found


def step_recipients(cfg: ProvinceConfig, step: EscalationStep, level: int,
                    now: datetime) -> list[Recipient]:
    """Everyone an escalation step notifies at `now` (the rotation's on-call person included)."""
    people = list(step.people)
    if step.rotation is not None:
        people.insert(0, cfg.oncall.on_call(step.rotation, now, cfg.province.tz).id)
    found = [Recipient(name, "", level) for name in step.channels]
    for person_id in dict.fromkeys(people):
        found.extend(person_recipients(cfg, cfg.oncall.person(person_id), step.via, level))
    return found
