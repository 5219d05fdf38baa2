"""Interfaces: a fitted potential used by other programs.

The ASE calculator (:mod:`.calculator`), molecular dynamics through ASE (:mod:`.md`), LAMMPS
through ``fix external`` (:mod:`.lammps_external`), LAMMPS SNAP files (:mod:`.snap_files`) and
standalone evaluator modules (:mod:`.export`). May import the potential, the evaluator and
everything below them; never fit, analysis or the command line.
"""
