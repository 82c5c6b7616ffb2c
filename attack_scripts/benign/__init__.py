"""Benign traffic kinds: what a government office's network carries when nobody attacks it.

Varied on purpose, so that a careless rule ("any DNS TXT query", "any POST") raises false
positives the way it would on a real network.
"""
