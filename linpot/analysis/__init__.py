"""Analysis: what a person reads about a potential.

Error metrics and tables by config_type (:mod:`.metrics`), plots (:mod:`.plots`), evaluation cost
against a reference timed in the same run (:mod:`.cost`), Pareto searches of held-out accuracy
against cost (:mod:`.pareto`), descriptor-order and family comparisons (:mod:`.compare`),
``--descriptor auto`` (:mod:`.auto`), physical properties with their DFT references
(:mod:`.properties`) and database reports (:mod:`.database`). May import the interfaces (a
property calculation runs the ASE calculator), fit, the potential and everything below; never
the command line.
"""
