"""Use cases: take a session first, may flush, never commit, never import Flask."""
