"""Writes of the booking, one module per topic: `places` (locks and counters), `booking` (holds
and new appointments), `changes` (cancel, move), `slots` (generation), `events` (the audit trail).
Views, the admin, tasks and commands call these; none of them writes appointment state directly."""
