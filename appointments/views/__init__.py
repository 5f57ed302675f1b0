"""Public pages: `booking` (the booking steps), `manage` (finding, cancelling, moving) and
`common` (what they share)."""
