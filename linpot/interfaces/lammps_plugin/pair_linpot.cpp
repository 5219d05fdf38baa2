/* ----------------------------------------------------------------------
   linpot: pair_style linpot (see pair_linpot.h).

   The energy of a linpot potential is a sum of atomic energies E_i, each a function of the
   vectors r_ij = x_j - x_i to the neighbours of atom i within the cutoff. For each local atom the
   evaluator (linpot_model.cpp) returns E_i and g_ij = dE_i/dr_ij; then F_i += g_ij, F_j -= g_ij,
   and the pair's virial is -sym(r_ij (x) g_ij), split half to i and half to j per atom. With a
   full neighbour list, forces on ghost atoms are returned to their owners by LAMMPS's reverse
   communication (newton on) or by this style's own (newton off). A committee is the mean of its
   members.
------------------------------------------------------------------------- */

#include "pair_linpot.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "json.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"

#include "linpot_model.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace LAMMPS_NS;

static constexpr int FORMAT_VERSION = 1;

/* ---------------------------------------------------------------------- */

PairLinpot::PairLinpot(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
  no_virial_fdotr_compute = 1;
  comm_reverse = 9;
  comm_reverse_off = 9;

  cutmax = 0.0;
  map = nullptr;
  nmax_neigh = 0;
  nvec = nr = ngrad = nullptr;
  nspecies = nindex = nullptr;
  reverse_atom = 0;
}

/* ---------------------------------------------------------------------- */

PairLinpot::~PairLinpot()
{
  clear_models();
  memory->destroy(nvec);
  memory->destroy(nr);
  memory->destroy(ngrad);
  memory->destroy(nspecies);
  memory->destroy(nindex);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(map);
  }
}

/* ---------------------------------------------------------------------- */

void PairLinpot::clear_models()
{
  for (auto *m : models) delete m;
  models.clear();
}

/* ---------------------------------------------------------------------- */

void PairLinpot::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  double **x = atom->x;
  double **f = atom->f;
  int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const int newton = force->newton_pair;

  // newton off: LAMMPS neither clears nor returns the ghost atoms' forces; this style does both
  if (!newton) {
    for (int i = nlocal; i < nall; ++i) f[i][0] = f[i][1] = f[i][2] = 0.0;
    if (vflag_atom)
      for (int i = nlocal; i < nall; ++i)
        for (int k = 0; k < 6; ++k) vatom[i][k] = 0.0;
  }

  const double weight = 1.0 / (double) models.size();
  const double cutmaxsq = cutmax * cutmax;
  const int inum = list->inum;
  int *ilist = list->ilist;
  int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;

  for (int ii = 0; ii < inum; ++ii) {
    const int i = ilist[ii];
    const int si = map[type[i]];
    if (si < 0) continue;
    const int *jlist = firstneigh[i];
    const int jnum = numneigh[i];
    if (jnum > nmax_neigh) {
      nmax_neigh = jnum + jnum / 2 + 8;
      memory->grow(nvec, 3 * nmax_neigh, "pair:linpot:nvec");
      memory->grow(nr, nmax_neigh, "pair:linpot:nr");
      memory->grow(ngrad, 3 * nmax_neigh, "pair:linpot:ngrad");
      memory->grow(nspecies, nmax_neigh, "pair:linpot:nspecies");
      memory->grow(nindex, nmax_neigh, "pair:linpot:nindex");
    }
    const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    int n = 0;
    for (int jj = 0; jj < jnum; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const int sj = map[type[j]];
      if (sj < 0) continue;
      const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
      const double rsq = dx * dx + dy * dy + dz * dz;
      if (rsq >= cutmaxsq) continue;
      nvec[3 * n] = dx;
      nvec[3 * n + 1] = dy;
      nvec[3 * n + 2] = dz;
      nr[n] = std::sqrt(rsq);
      nspecies[n] = sj;
      nindex[n] = j;
      ++n;
    }

    // every member sees the neighbours within the largest cutoff: beyond its own, its radial
    // functions and their derivatives are exactly zero
    double ei = 0.0;
    for (auto *model : models) {
      ei += weight * model->energy_gradient(si, n, nvec, nr, nspecies, ngrad);
      for (int p = 0; p < n; ++p) {
        const int j = nindex[p];
        const double gx = weight * ngrad[3 * p], gy = weight * ngrad[3 * p + 1], gz = weight * ngrad[3 * p + 2];
        f[i][0] += gx;
        f[i][1] += gy;
        f[i][2] += gz;
        f[j][0] -= gx;
        f[j][1] -= gy;
        f[j][2] -= gz;
        if (vflag_either) {
          const double rx = nvec[3 * p], ry = nvec[3 * p + 1], rz = nvec[3 * p + 2];
          const double v[6] = {-rx * gx,
                               -ry * gy,
                               -rz * gz,
                               -0.5 * (rx * gy + ry * gx),
                               -0.5 * (rx * gz + rz * gx),
                               -0.5 * (ry * gz + rz * gy)};
          if (vflag_global)
            for (int k = 0; k < 6; ++k) virial[k] += v[k];
          if (vflag_atom)
            for (int k = 0; k < 6; ++k) {
              vatom[i][k] += 0.5 * v[k];
              vatom[j][k] += 0.5 * v[k];
            }
        }
      }
    }
    if (eflag_global) eng_vdwl += ei;
    if (eflag_atom) eatom[i] += ei;
  }

  if (!newton) {
    reverse_atom = vflag_atom;
    comm->reverse_comm(this, reverse_atom ? 9 : 3);
  }
}

/* ---------------------------------------------------------------------- */

int PairLinpot::pack_reverse_comm(int n, int first, double *buf)
{
  double **f = atom->f;
  int m = 0;
  for (int i = first; i < first + n; ++i) {
    buf[m++] = f[i][0];
    buf[m++] = f[i][1];
    buf[m++] = f[i][2];
    if (reverse_atom)
      for (int k = 0; k < 6; ++k) buf[m++] = vatom[i][k];
  }
  return m;
}

/* ---------------------------------------------------------------------- */

void PairLinpot::unpack_reverse_comm(int n, int *list, double *buf)
{
  double **f = atom->f;
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const int j = list[i];
    f[j][0] += buf[m++];
    f[j][1] += buf[m++];
    f[j][2] += buf[m++];
    if (reverse_atom)
      for (int k = 0; k < 6; ++k) vatom[j][k] += buf[m++];
  }
}

/* ---------------------------------------------------------------------- */

void PairLinpot::allocate()
{
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  memory->create(map, n + 1, "pair:map");
  for (int i = 0; i <= n; ++i) {
    map[i] = -1;
    for (int j = 0; j <= n; ++j) setflag[i][j] = 0;
  }
}

/* ---------------------------------------------------------------------- */

void PairLinpot::settings(int narg, char ** /*arg*/)
{
  if (narg != 0) error->all(FLERR, "Illegal pair_style linpot command: it takes no arguments");
}

/* ----------------------------------------------------------------------
   pair_coeff * * POTENTIAL.json El1 El2 ... (an element or NULL per atom type)
------------------------------------------------------------------------- */

void PairLinpot::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR,
               "Incorrect args for pair coefficients: pair_style linpot needs pair_coeff * * POTENTIAL "
               "followed by one element (or NULL) per atom type ({} types)",
               ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "Incorrect args for pair coefficients: pair_style linpot needs pair_coeff * * POTENTIAL ...");

  read_file(arg[2]);

  const std::vector<std::string> &elements = models[0]->elements;
  std::string known;
  for (const auto &e : elements) known += (known.empty() ? "" : " ") + e;
  for (int i = 1; i <= ntypes; ++i) {
    const std::string name = arg[2 + i];
    map[i] = -1;
    if (name == "NULL") continue;
    for (std::size_t k = 0; k < elements.size(); ++k)
      if (elements[k] == name) map[i] = (int) k;
    if (map[i] < 0)
      error->all(FLERR, "Element {} (atom type {}) is not in linpot potential {} (its elements: {})", name, i,
                 arg[2], known);
  }
  int count = 0;
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) {
      setflag[i][j] = (map[i] >= 0 && map[j] >= 0) ? 1 : 0;
      count += setflag[i][j];
    }
  if (count == 0) error->all(FLERR, "Incorrect args for pair coefficients: every atom type is NULL");
}

/* ----------------------------------------------------------------------
   the potential file: a linpot potential or committee, each potential with its evaluator tables
------------------------------------------------------------------------- */

void PairLinpot::read_file(const std::string &path)
{
  // rank 0 reads, every rank parses the same text
  std::string text;
  int status = 0;
  if (comm->me == 0) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      status = 1;
      text = strerror(errno);
    } else {
      std::ostringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
  }
  bigint size = (bigint) text.size();
  MPI_Bcast(&status, 1, MPI_INT, 0, world);
  MPI_Bcast(&size, 1, MPI_LMP_BIGINT, 0, world);
  text.resize(size);
  if (size > 0) MPI_Bcast(&text[0], (int) size, MPI_CHAR, 0, world);
  if (status) error->all(FLERR, "Cannot open linpot potential file {}: {}", path, text);

  json doc = json::parse(text, nullptr, false);
  text.clear();
  if (doc.is_discarded() || !doc.is_object())
    error->all(FLERR, "{} is not a linpot potential file (invalid JSON: truncated or another format)", path);
  const std::string format = doc.value("format", std::string());
  if (format != "linpot-potential" && format != "linpot-committee")
    error->all(FLERR, "{} is not a linpot potential file (format '{}')", path, format);
  if (!doc.contains("format_version") || !doc["format_version"].is_number_integer() ||
      doc["format_version"].get<int>() != FORMAT_VERSION)
    error->all(FLERR,
               "linpot potential file {} has format_version {}; this pair_style linpot reads {} (rebuild it with "
               "the linpot that wrote the file: linpot lammps-plugin)",
               path, doc.contains("format_version") ? doc["format_version"].dump() : std::string("(none)"),
               FORMAT_VERSION);

  std::vector<const json *> members;
  if (format == "linpot-committee") {
    if (!doc.contains("members") || !doc["members"].is_array() || doc["members"].empty())
      error->all(FLERR, "linpot committee file {} has no members", path);
    for (const auto &m : doc["members"]) members.push_back(&m);
  } else {
    members.push_back(&doc);
  }

  clear_models();
  for (std::size_t k = 0; k < members.size(); ++k) {
    const json &pot = *members[k];
    const std::string which =
        members.size() > 1 ? fmt::format("{} (member {})", path, k + 1) : std::string(path);
    if (!pot.is_object() || pot.value("format", std::string()) != "linpot-potential" ||
        pot.value("format_version", -1) != FORMAT_VERSION)
      error->all(FLERR, "linpot potential file {}: not a linpot potential of format_version {}", which,
                 FORMAT_VERSION);
    if (!pot.contains("evaluator_tables")) {
      std::string kind = "unknown";
      int degree = 1;
      bool mixed = false, complete = false, channels = false;
      if (pot.contains("model") && pot["model"].is_object()) {
        const json &model = pot["model"];
        degree = model.value("degree", 1);
        if (model.contains("descriptor") && model["descriptor"].is_object()) {
          kind = model["descriptor"].value("kind", std::string("unknown"));
          const json &d = model["descriptor"];
          mixed = d.contains("mixed_orders") && d["mixed_orders"].is_array() && !d["mixed_orders"].empty();
          complete = d.contains("element_coupling") && d["element_coupling"].is_string() &&
                     d["element_coupling"].get<std::string>() == "complete";
          channels = d.contains("channels") && !d["channels"].is_null();
        }
      }
      // complete invariants are compiled unless they enter products (then no tables were written)
      const bool compact = !mixed && !complete && !channels;
      const bool known = (kind == "pair") || (kind == "invariants" && compact) || (kind == "moment-tensors" && degree == 1);
      if (known)
        error->all(FLERR,
                   "linpot potential file {} has no evaluator tables (an older linpot wrote it); add them with: "
                   "linpot upgrade {}",
                   which, path);
      std::string what = kind;
      if (kind == "invariants" && mixed) what = "invariants with mixed radial indices";
      if (kind == "invariants" && channels) what = "invariants in weighted element channels";
      if (kind == "invariants" && complete && !mixed && !channels)
        what = "complete element-resolved invariants in products (it runs them with product_orders = [1])";
      if (kind == "moment-tensors") what = fmt::format("moment-tensors with a degree-{} model", degree);
      error->all(FLERR,
                 "linpot potential file {}: pair_style linpot does not support the {} family (it runs pair, "
                 "compact invariant and linear moment-tensor potentials){}",
                 which, what,
                 kind == "snap" ? "; for SNAP use pair_style snap with the files of: linpot export POT --lammps PREFIX"
                                : "");
    }
    LinpotEval::Model *model = nullptr;
    std::string reason;
    try {
      model = LinpotEval::read_model(pot["evaluator_tables"]);
    } catch (std::exception &exc) {
      reason = exc.what();
    }
    if (!model) error->all(FLERR, "linpot potential file {}: {}", which, reason);
    models.push_back(model);
    if (model->elements != models[0]->elements)
      error->all(FLERR, "linpot potential file {}: the members' elements differ", path);
  }

  cutmax = 0.0;
  for (auto *m : models) cutmax = std::max(cutmax, m->cutoff());
}

/* ---------------------------------------------------------------------- */

void PairLinpot::init_style()
{
  if (models.empty()) error->all(FLERR, "pair_style linpot needs pair_coeff * * POTENTIAL El1 El2 ...");
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

/* ---------------------------------------------------------------------- */

double PairLinpot::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set");
  return cutmax;
}

/* ---------------------------------------------------------------------- */

double PairLinpot::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += (double) nmax_neigh * (7 * sizeof(double) + 2 * sizeof(int));
  return bytes;
}
