"""Writes of the booking, one module per topic: `places` (locks and counters), `booking` (holds
and new appointments), `changes` (cancel, move, the end of a missed appointment), `lifecycle`
(the one function that changes a status, and the audit trails), `closures` (what a closure
left), `slots` (generation). Views, the admin, tasks and commands call these; none of them writes
appointment state directly."""
