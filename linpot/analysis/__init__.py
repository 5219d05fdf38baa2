"""Analysis: what a person reads about a potential.

Error metrics and tables by config_type (:mod:`.metrics`), plots (parity, accuracy against cost
with its Pareto front: :mod:`.plots`); the room for Pareto searches, physical properties and
database reports. May import the potential, the interfaces (a property calculation runs the ASE
calculator), fit and everything below; never the command line.
"""
