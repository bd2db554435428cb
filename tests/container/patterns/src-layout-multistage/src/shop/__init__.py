"""The shop's API package."""
