/* -*- c++ -*- ----------------------------------------------------------
   linpot: pair_style linpot, every potential linpot's compiled evaluator runs (pair
   polynomials, rotational invariants, linear moment tensors; committees as their mean), read
   from the potential file linpot writes.

     pair_style linpot
     pair_coeff * * POTENTIAL.json El1 El2 ...     (one element or NULL per atom type)
------------------------------------------------------------------------- */

#ifdef PAIR_CLASS
// clang-format off
PairStyle(linpot,PairLinpot);
// clang-format on
#else

#ifndef LMP_PAIR_LINPOT_H
#define LMP_PAIR_LINPOT_H

#include "pair.h"

#include <string>
#include <vector>

namespace LinpotEval {
class Model;
}

namespace LAMMPS_NS {

class PairLinpot : public Pair {
 public:
  PairLinpot(class LAMMPS *);
  ~PairLinpot() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  double memory_usage() override;

 protected:
  std::vector<LinpotEval::Model *> models;    // one, or the members of a committee
  double cutmax;
  int *map;    // atom type -> element index of the potential, -1 for NULL
  int nmax_neigh;
  double *nvec, *nr, *ngrad;    // per-neighbour r_ij, |r_ij|, dE/dr_ij of the current atom
  int *nspecies, *nindex;
  int reverse_atom;    // whether the reverse communication carries the per-atom virial

  void allocate();
  void clear_models();
  void read_file(const std::string &path);
};

}    // namespace LAMMPS_NS

#endif
#endif
