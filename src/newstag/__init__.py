"""newstag."""
