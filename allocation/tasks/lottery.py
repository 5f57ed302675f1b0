"""The lottery."""
