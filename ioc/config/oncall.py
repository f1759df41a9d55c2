"""On-call: people, weekly rotations with overrides, and escalation policies."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from ioc.config.channels import Email
from ioc.config.types import WEEKDAYS, Duration, Model, Slug, Weekday, fail


class Person(Model):
    """An engineer who can be on call."""

    id: Slug = Field(description="Short id used by rotations and overrides, e.g. `an-nv`.")
    name: str = Field(min_length=1, description="Full name (Vietnamese), e.g. Nguyễn Văn An.")
    email: Email | None = Field(default=None, description="E-mail for direct notification.")
    telegram_chat_id: str | None = Field(default=None, description="Telegram chat id of the "
                                         "person (they must have started the bot).")
    phone: str | None = Field(default=None, description="Phone number, shown to operators; "
                                  "a zalo_zns channel in `via` sends to it (a mobile).")


class Rotation(Model):
    """A weekly rota: participants take turns, handing off on a weekday at a local time."""

    id: Slug = Field(description="Rotation id, e.g. `primary`; also the on-call level name.")
    name: str = Field(min_length=1, description="Display name (Vietnamese).")
    participants: tuple[Slug, ...] = Field(min_length=1, description="Person ids in turn order.")
    handoff_weekday: Weekday = Field(default="monday", description="Day of the hand-off.")
    handoff_time: time = Field(default=time(8, 0), description="Local time of the hand-off "
                               "(HH:MM, province time zone), default 08:00.")
    start: date = Field(description="A date in the week the first participant's turn begins; "
                        "turns count from the hand-off of that week.")

    def anchor(self, tz: ZoneInfo) -> datetime:
        """The first hand-off (start of the first participant's first turn), in local time."""
        days_back = (self.start.weekday() - WEEKDAYS.index(self.handoff_weekday)) % 7
        day = self.start - timedelta(days=days_back)
        return datetime.combine(day, self.handoff_time, tzinfo=tz)

    def scheduled(self, now: datetime, tz: ZoneInfo) -> str:
        """Person id whose regular turn covers `now` (overrides not applied)."""
        local = now.astimezone(tz).replace(tzinfo=None)
        anchor = self.anchor(tz).replace(tzinfo=None)  # wall-clock weeks, as people read a rota
        weeks = (local - anchor) // timedelta(weeks=1)
        return self.participants[weeks % len(self.participants)]


class Override(Model):
    """A person covering a rotation for a period (leave, swap)."""

    rotation: Slug = Field(description="Rotation id.")
    person: Slug = Field(description="Person id who covers.")
    from_: datetime = Field(alias="from", description="Start (local time unless an offset "
                            "is written).")
    to: datetime = Field(description="End (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.to <= self.from_:
            fail("override 'to' must be after 'from'", "swap or fix the two times")
        return self

    def covers(self, now: datetime, tz: ZoneInfo) -> bool:
        """True when `now` falls inside the override."""
        start = self.from_ if self.from_.tzinfo else self.from_.replace(tzinfo=tz)
        end = self.to if self.to.tzinfo else self.to.replace(tzinfo=tz)
        return start <= now < end


class EscalationStep(Model):
    """Who to notify once an alert has been unacknowledged for `after`."""

    after: Duration = Field(description="Time since the alert fired (0s = at once).")
    rotation: Slug | None = Field(default=None, description="Notify whoever is on call in "
                                  "this rotation.")
    people: tuple[Slug, ...] = Field(default=(), description="Notify these people.")
    channels: tuple[Slug, ...] = Field(default=(), description="Notify these channels as "
                                       "configured (e.g. a team group chat).")
    via: tuple[Slug, ...] = Field(
        default=(), description="Channels used to reach the rotation's person and `people`: "
        "an email channel sends to their e-mail, a telegram channel to their chat id, a "
        "zalo_zns channel to their mobile phone.")

    @model_validator(mode="after")
    def _someone(self) -> EscalationStep:
        if self.rotation is None and not self.people and not self.channels:
            fail("an escalation step must notify someone",
                 "add rotation: <id>, people: [...] or channels: [...]")
        if (self.rotation is not None or self.people) and not self.via:
            fail("an escalation step that notifies people needs 'via'",
                 "add via: [<email or telegram channel>] to say how to reach them")
        return self


class EscalationPolicy(Model):
    """Steps taken in order until someone acknowledges the alert."""

    id: Slug = Field(description="Policy id, referenced by routes (`escalation:`).")
    steps: tuple[EscalationStep, ...] = Field(min_length=1, description="Steps in order of "
                                              "`after`.")
    repeat: int = Field(default=0, ge=0, description="Run the steps again this many times.")

    @field_validator("steps")
    @classmethod
    def _in_order(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        for before, after in pairwise(steps):
            if after.after < before.after:
                fail("escalation steps must be in increasing order of 'after'",
                     "sort the steps by after")
        return steps


class OnCall(Model):
    """The on-call section (oncall.yaml)."""

    people: tuple[Person, ...] = Field(default=(), description="Everyone who can be notified.")
    rotations: tuple[Rotation, ...] = Field(default=(), description="Weekly rotas.")
    overrides: tuple[Override, ...] = Field(default=(), description="Temporary cover.")
    escalation_policies: tuple[EscalationPolicy, ...] = Field(
        default=(), description="Escalation policies referenced by routes.")

    def person(self, person_id: str) -> Person:
        """The person with this id (KeyError when unknown; config checks make that a bug)."""
        for person in self.people:
            if person.id == person_id:
                return person
        raise KeyError(person_id)

    def policy(self, policy_id: str) -> EscalationPolicy:
        """The escalation policy with this id."""
        for policy in self.escalation_policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)

    def on_call(self, rotation_id: str, now: datetime, tz: ZoneInfo) -> Person:
        """Who is on call in a rotation at `now`: the latest matching override, else the rota."""
        rotation = next(r for r in self.rotations if r.id == rotation_id)
        person_id = rotation.scheduled(now, tz)
        for override in self.overrides:
            if override.rotation == rotation_id and override.covers(now, tz):
                person_id = override.person
        return self.person(person_id)
