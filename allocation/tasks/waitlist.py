"""The waitlist."""
