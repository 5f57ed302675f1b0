"""The appointment's lifecycle: which change is allowed from which status, and by whom.

    booked ──check in──> checked in ──call──> called ──serve──> served
      │  ╰──move──╮          ^                 │ ╰──call again──╮
      │  <────────╯          ╰────send back────╯ <──────────────╯
      ├──cancel──> cancelled
      ╰──no-show──> no-show  <── (also from checked in and called)

This table is the only place the rules live. `appointments.services.lifecycle.change_status` checks
it, moves the status, counts the revision and writes the event; every service that changes an
appointment calls it. A CHECK constraint keeps the status values valid in the database."""

from dataclasses import dataclass
from enum import StrEnum

from appointments.models import Appointment, AppointmentEvent

Status = Appointment.Status
By = AppointmentEvent.By


class Transition(StrEnum):
    MOVE = "moved"
    CANCEL = "cancelled"
    CHECK_IN = "checked_in"
    CALL = "called"
    RECALL = "recalled"
    REQUEUE = "requeued"
    SERVE = "served"
    NO_SHOW = "no_show"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: str | None  # None: the status stays (a move, a second call)
    by: frozenset[str]


def _rule(sources: set[str], target: str | None, by: set[str]) -> Rule:
    return Rule(frozenset(sources), target, frozenset(by))


TRANSITIONS: dict[Transition, Rule] = {
    Transition.MOVE: _rule({Status.BOOKED}, None, {By.APPLICANT, By.STAFF}),
    # The system cancels only what the end-of-day run finds booked on a day the office was closed.
    Transition.CANCEL: _rule({Status.BOOKED}, Status.CANCELLED, {By.APPLICANT, By.STAFF, By.SYSTEM}),
    Transition.CHECK_IN: _rule({Status.BOOKED}, Status.CHECKED_IN, {By.STAFF}),
    Transition.CALL: _rule({Status.CHECKED_IN}, Status.CALLED, {By.STAFF}),
    Transition.RECALL: _rule({Status.CALLED}, None, {By.STAFF}),
    Transition.REQUEUE: _rule({Status.CALLED}, Status.CHECKED_IN, {By.STAFF}),
    Transition.SERVE: _rule({Status.CHECKED_IN, Status.CALLED}, Status.SERVED, {By.STAFF}),
    # Staff mark a no-show at the desk; the end-of-day run marks the rest (by: system).
    Transition.NO_SHOW: _rule({Status.BOOKED, Status.CHECKED_IN, Status.CALLED}, Status.NO_SHOW, {By.STAFF, By.SYSTEM}),
}


def allowed(transition: Transition, *, status: str, by: str) -> bool:
    rule = TRANSITIONS[transition]
    return status in rule.sources and by in rule.by


def next_status(transition: Transition, status: str) -> str:
    return TRANSITIONS[transition].target or status
