/* ----------------------------------------------------------------------
   linpot: the compiled evaluator of a linpot potential, in C++.

   A potential file written by linpot carries, per potential (per member of a committee), an
   "evaluator_tables" block: the tables that linpot's own compiled evaluator runs
   (linpot/evaluator/tables.py, linpot/kernels/evaluator.py, linpot/kernels/moment_tensors.py).
   This file reads those tables and evaluates them, one central atom at a time, with the same
   arithmetic: the energy of the atom and dE/dr_ij for each of its neighbours j (r_ij = x_j - x_i).
   Nothing here depends on LAMMPS but its bundled JSON reader; errors are std::runtime_error with
   a one-line message.
------------------------------------------------------------------------- */

#ifndef LINPOT_MODEL_H
#define LINPOT_MODEL_H

#include "json.h"

#include <string>
#include <vector>

namespace LinpotEval {

// Radial basis f_n(r) with the cosine cutoff (linpot/kernels/radial.py).
struct Radial {
  int kind = 0;    // 0: Chebyshev, 1: Gaussian
  int n_basis = 0;
  double r_min = 0.0, width = 0.0, r_cut = 0.0;
  std::vector<double> centres;
  void evaluate(double r, double *f, double *df, double *t, double *dt) const;
};

class Model {
 public:
  virtual ~Model() = default;
  // Energy of a central atom of species s (index into elements) whose n neighbours within
  // cutoff() are at vec[3p..3p+2] (r_ij, Angstrom), distance r[p], of species sp[p]; writes
  // dE/dr_ij into grad[3p..3p+2].
  virtual double energy_gradient(int s, int n, const double *vec, const double *r, const int *sp,
                                 double *grad) = 0;
  double cutoff() const { return radial.r_cut; }
  std::vector<std::string> elements;
  std::string family;

 protected:
  Radial radial;
  std::vector<double> fbuf, dfbuf, tbuf, dtbuf;    // radial functions of the neighbours
  void radial_of_neighbours(int n, const double *r);
};

// Reads one "evaluator_tables" block (throws std::runtime_error naming what is wrong).
Model *read_model(const LAMMPS_NS::json &block);

// Decodes standard base64 (throws std::runtime_error on invalid input).
std::string base64_decode(const std::string &text);

}    // namespace LinpotEval

#endif
