/* ----------------------------------------------------------------------
   linpot: the compiled evaluator of a linpot potential, in C++ (see linpot_model.h).

   Two families of tables, as linpot/evaluator/tables.py compiles them:
   * "expansion" (pair polynomials and rotational invariants of any order): the neighbour
     density a[c, lm] = sum_j f_n(r_ij) Y_lm(r_ij / |r_ij|) per channel c = species * N + n, the
     merged polynomial of the linearly entering features (one weight per angular pattern and
     channel), the features entering products (standardised, with their monomials), then
     dE/dr_ij in one pass over the neighbours (linpot/kernels/evaluator.py);
   * "moment-tensors" (linear moment-tensor potentials): dense moments per neighbour element,
     monomial of the unit vector and radial index, one merged polynomial in the moment components
     per central species (linpot/kernels/moment_tensors.py).
------------------------------------------------------------------------- */

#include "linpot_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

using LAMMPS_NS::json;

namespace LinpotEval {

/* ---------------------------------------------------------------------- */

std::string base64_decode(const std::string &text)
{
  static int table[256];
  static bool ready = false;
  if (!ready) {
    for (int &v : table) v = -1;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int k = 0; k < 64; ++k) table[(unsigned char) alphabet[k]] = k;
    ready = true;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned int buffer = 0;
  int bits = 0;
  std::size_t k = 0;
  for (; k < text.size(); ++k) {
    unsigned char ch = text[k];
    if (ch == '=') break;
    int v = table[ch];
    if (v < 0) throw std::runtime_error("invalid base64 data in the evaluator tables");
    buffer = (buffer << 6) | (unsigned int) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back((char) ((buffer >> bits) & 0xFF));
    }
  }
  for (; k < text.size(); ++k)
    if (text[k] != '=') throw std::runtime_error("invalid base64 data in the evaluator tables");
  return out;
}

/* ----------------------------------------------------------------------
   reading the tables
------------------------------------------------------------------------- */

namespace {

  struct Table {
    std::vector<std::size_t> shape;
    std::vector<double> f;    // float64 tables
    std::vector<int> i;       // integer tables
    std::size_t cols() const { return shape.size() > 1 ? shape[1] : 1; }
  };

  Table read_array(const json &block, const char *name, bool integer)
  {
    const json &arrays = block.at("arrays");
    if (!arrays.contains(name))
      throw std::runtime_error(std::string("evaluator tables lack the table '") + name + "'");
    const json &item = arrays.at(name);
    Table out;
    std::size_t n = 1;
    for (const auto &d : item.at("shape")) {
      out.shape.push_back(d.get<std::size_t>());
      n *= out.shape.back();
    }
    const std::string dtype = item.at("dtype").get<std::string>();
    const std::string raw = base64_decode(item.at("data").get<std::string>());
    std::size_t size = dtype == "int32" ? 4 : 8;
    if ((dtype != "int32" && dtype != "int64" && dtype != "float64") || (dtype == "float64") == integer)
      throw std::runtime_error(std::string("evaluator table '") + name + "' has dtype " + dtype);
    if (raw.size() != n * size)
      throw std::runtime_error(std::string("evaluator table '") + name + "' has the wrong size");
    // the file's values are little-endian, as is every platform LAMMPS runs linpot on
    if (dtype == "float64") {
      out.f.resize(n);
      if (n) std::memcpy(out.f.data(), raw.data(), n * 8);
    } else if (dtype == "int32") {
      out.i.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        int32_t v;
        std::memcpy(&v, raw.data() + 4 * k, 4);
        out.i[k] = v;
      }
    } else {
      out.i.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        int64_t v;
        std::memcpy(&v, raw.data() + 8 * k, 8);
        out.i[k] = (int) v;
      }
    }
    return out;
  }

  double scalar(const json &block, const char *name)
  {
    const json &scalars = block.at("scalars");
    if (!scalars.contains(name))
      throw std::runtime_error(std::string("evaluator tables lack the value '") + name + "'");
    return scalars.at(name).get<double>();
  }

  void read_radial(const json &block, Radial &radial)
  {
    radial.kind = (int) scalar(block, "radial_kind");
    radial.n_basis = (int) scalar(block, "n_basis");
    radial.r_min = scalar(block, "r_min");
    radial.width = scalar(block, "width");
    radial.r_cut = scalar(block, "r_cut");
    radial.centres = read_array(block, "centres", false).f;
    if (radial.kind != 0 && radial.kind != 1)
      throw std::runtime_error("unknown radial basis kind " + std::to_string(radial.kind));
    if (radial.kind == 1 && (int) radial.centres.size() != radial.n_basis)
      throw std::runtime_error("Gaussian radial basis with the wrong number of centres");
    if (radial.n_basis < 1 || !(radial.r_cut > 0.0))
      throw std::runtime_error("invalid radial basis in the evaluator tables");
  }

  // weight * prod_q x[factors[q] * xs], adding the derivative with respect to each factor into
  // grad[factors[q] * gs] (linpot/kernels/polynomial.py: prefix and suffix products, O(degree))
  inline double monomial_value_gradient(const double *x, int xs, const int *factors, int width, double weight,
                                        double *grad, int gs, double *prefix)
  {
    int n = 0;
    prefix[0] = weight;
    while (n < width && factors[n] >= 0) {
      prefix[n + 1] = prefix[n] * x[factors[n] * xs];
      ++n;
    }
    double suffix = 1.0;
    for (int q = n - 1; q >= 0; --q) {
      const int k = factors[q];
      grad[k * gs] += prefix[q] * suffix;
      suffix *= x[k * xs];
    }
    return prefix[n];
  }

}    // namespace

/* ----------------------------------------------------------------------
   radial basis (linpot/kernels/radial.py)
------------------------------------------------------------------------- */

void Radial::evaluate(double r, double *f, double *df, double *t, double *dt) const
{
  const int nb = n_basis;
  if (r >= r_cut) {
    for (int n = 0; n < nb; ++n) f[n] = df[n] = 0.0;
    return;
  }
  const double k = M_PI / r_cut;
  const double fc = 0.5 * (std::cos(r * k) + 1.0);
  const double dfc = -0.5 * k * std::sin(r * k);
  if (kind == 1) {
    const double inv_w2 = 1.0 / (width * width);
    for (int n = 0; n < nb; ++n) {
      const double d = r - centres[n];
      const double g = std::exp(-0.5 * d * d * inv_w2);
      f[n] = g * fc;
      df[n] = g * (dfc - d * inv_w2 * fc);
    }
    return;
  }
  const double scale = 2.0 / (r_cut - r_min);
  const double x = scale * (r - r_min) - 1.0;
  t[0] = 1.0;
  dt[0] = 0.0;
  if (nb > 1) {
    t[1] = x;
    dt[1] = 1.0;
  }
  for (int n = 1; n < nb - 1; ++n) {
    t[n + 1] = 2.0 * x * t[n] - t[n - 1];
    dt[n + 1] = 2.0 * t[n] + 2.0 * x * dt[n] - dt[n - 1];
  }
  for (int n = 0; n < nb; ++n) {
    f[n] = t[n] * fc;
    df[n] = dt[n] * scale * fc + t[n] * dfc;
  }
}

void Model::radial_of_neighbours(int n, const double *r)
{
  const int nb = radial.n_basis;
  if ((int) fbuf.size() < n * nb) {
    fbuf.resize(2 * n * nb);
    dfbuf.resize(2 * n * nb);
  }
  tbuf.resize(nb);
  dtbuf.resize(nb);
  for (int p = 0; p < n; ++p)
    radial.evaluate(r[p], &fbuf[p * nb], &dfbuf[p * nb], tbuf.data(), dtbuf.data());
}

/* ----------------------------------------------------------------------
   expansion family: pair polynomials and rotational invariants
------------------------------------------------------------------------- */

namespace {

  class ExpansionModel : public Model {
   public:
    explicit ExpansionModel(const json &block);
    double energy_gradient(int s, int n, const double *vec, const double *r, const int *sp,
                           double *grad) override;

   private:
    int n_species, l_max, n_lm, n_ch, n_q;
    std::vector<int> tuple_start, tuple_lm, tuple_off, tuple_degree, tuple_nch, q_channel, q_type,
        type_entry_start, entry_lm, q_terms;
    std::vector<double> tuple_w, constant, entry_coef, q_mean, q_scale, q_coef;
    int tuple_width, entry_width, q_width, n_q_terms;
    std::vector<double> K;    // normalisation of the harmonics
    // per-atom work space
    std::vector<double> Y, dY, a, aT, dEdaT, dEda, gq, dEdg, gB, prefix, h0, h1;
    std::vector<double> P, dP, C, S, inv;
    void harmonics(int n, const double *vec);
    double merged_polynomial(int start, int stop);
  };

  ExpansionModel::ExpansionModel(const json &block)
  {
    read_radial(block, radial);
    n_species = (int) scalar(block, "n_species");
    l_max = (int) scalar(block, "l_max");
    n_lm = (l_max + 1) * (l_max + 1);
    n_ch = n_species * radial.n_basis;
    Table t = read_array(block, "tuple_start", true);
    tuple_start = t.i;
    t = read_array(block, "tuple_lm", true);
    tuple_lm = t.i;
    tuple_width = (int) t.cols();
    // channel offsets of the factors (complete invariants; version 2): absent = all 0
    if (block.at("arrays").contains("tuple_off")) {
      Table o = read_array(block, "tuple_off", true);
      if (o.shape != t.shape) throw std::runtime_error("evaluator table 'tuple_off' does not match 'tuple_lm'");
      tuple_off = o.i;
    } else {
      tuple_off.assign(tuple_lm.size(), 0);
    }
    tuple_degree = read_array(block, "tuple_degree", true).i;
    tuple_nch = read_array(block, "tuple_nch", true).i;
    t = read_array(block, "tuple_w", false);
    tuple_w = t.f;
    if (t.shape.size() != 2 || (int) t.shape[1] != n_ch)
      throw std::runtime_error("evaluator table 'tuple_w' does not match the channels");
    constant = read_array(block, "const", false).f;
    q_channel = read_array(block, "q_channel", true).i;
    q_type = read_array(block, "q_type", true).i;
    type_entry_start = read_array(block, "type_entry_start", true).i;
    t = read_array(block, "entry_lm", true);
    entry_lm = t.i;
    entry_width = (int) t.cols();
    entry_coef = read_array(block, "entry_coef", false).f;
    q_mean = read_array(block, "q_mean", false).f;
    q_scale = read_array(block, "q_scale", false).f;
    t = read_array(block, "q_terms", true);
    q_terms = t.i;
    q_width = (int) t.cols();
    n_q_terms = t.shape.empty() ? 0 : (int) t.shape[0];
    q_coef = read_array(block, "q_coef", false).f;
    n_q = (int) q_channel.size();
    if ((int) tuple_start.size() != n_species + 1 || (int) constant.size() != n_species ||
        (int) q_coef.size() != n_species * n_q_terms)
      throw std::runtime_error("evaluator tables do not match the number of species");
    for (int x : tuple_lm)
      if (x >= n_lm) throw std::runtime_error("evaluator tables exceed their l_max");
    const int n_tuples = (int) tuple_degree.size();
    if ((int) tuple_nch.size() != n_tuples || (int) tuple_lm.size() != n_tuples * tuple_width)
      throw std::runtime_error("evaluator tables of the merged monomials do not match");
    for (int T = 0; T < n_tuples; ++T)
      for (int q = 0; q < tuple_degree[T] && q < tuple_width; ++q) {
        const int off = tuple_off[T * tuple_width + q];
        if (off < 0 || off + tuple_nch[T] > n_ch)
          throw std::runtime_error("evaluator tables offset a channel beyond the expansion");
      }
    for (int k = 0; k < n_q; ++k)
      if (q_channel[k] < 0 || q_channel[k] >= n_ch || q_type[k] < 0 ||
          q_type[k] + 1 >= (int) type_entry_start.size())
        throw std::runtime_error("evaluator tables name a feature they lack");
    if ((int) q_mean.size() != n_q || (int) q_scale.size() != n_q || (int) q_type.size() != n_q)
      throw std::runtime_error("evaluator tables of product features do not match");
    for (int x : entry_lm)
      if (x >= n_lm) throw std::runtime_error("evaluator tables exceed their l_max");

    // normalisation K[l, m] (times sqrt(2) for m > 0) of the real harmonics
    K.assign((l_max + 1) * (l_max + 1), 0.0);
    for (int l = 0; l <= l_max; ++l)
      for (int m = 0; m <= l; ++m) {
        double ratio = 1.0;
        for (int k = l - m + 1; k <= l + m; ++k) ratio /= k;
        double v = std::sqrt((2 * l + 1) / (4.0 * M_PI) * ratio);
        if (m > 0) v *= std::sqrt(2.0);
        K[l * (l_max + 1) + m] = v;
      }
    a.assign(n_ch * n_lm, 0.0);
    aT.assign(n_lm * n_ch, 0.0);
    dEdaT.assign(n_lm * n_ch, 0.0);
    dEda.assign(n_ch * n_lm, 0.0);
    gq.assign(n_q, 0.0);
    dEdg.assign(n_q, 0.0);
    gB.assign((n_q > 0 ? n_q : 1) * n_lm, 0.0);
    int width = tuple_width;
    if (entry_width > width) width = entry_width;
    if (q_width > width) width = q_width;
    prefix.assign(width + 1, 0.0);
    h0.assign(n_lm, 0.0);
    h1.assign(n_lm, 0.0);
    P.assign((l_max + 1) * (l_max + 1), 0.0);
    dP.assign((l_max + 1) * (l_max + 1), 0.0);
    C.assign(l_max + 1, 0.0);
    S.assign(l_max + 1, 0.0);
    inv.assign(l_max + 2, 0.0);
    for (int k = 1; k <= l_max + 1; ++k) inv[k] = 1.0 / k;
  }

  // Y[p, lm] and dY[p, lm, :] (linpot/kernels/spherical_harmonics.py)
  void ExpansionModel::harmonics(int n, const double *vec)
  {
    if ((int) Y.size() < n * n_lm) {
      Y.resize(2 * n * n_lm);
      dY.resize(6 * n * n_lm);
    }
    const int L = l_max + 1;
    for (int p = 0; p < n; ++p) {
      const double r = std::sqrt(vec[3 * p] * vec[3 * p] + vec[3 * p + 1] * vec[3 * p + 1] +
                                 vec[3 * p + 2] * vec[3 * p + 2]);
      const double inv_r = 1.0 / r;
      const double x = vec[3 * p] * inv_r, y = vec[3 * p + 1] * inv_r, z = vec[3 * p + 2] * inv_r;
      for (int m = 0; m <= l_max; ++m) {
        double pmm = 1.0;
        for (int k = 1; k <= m; ++k) pmm *= 2 * k - 1;
        P[m * L + m] = pmm;
        dP[m * L + m] = 0.0;
        if (m + 1 <= l_max) {
          P[(m + 1) * L + m] = (2 * m + 1) * z * pmm;
          dP[(m + 1) * L + m] = (2 * m + 1) * pmm;
        }
        for (int l = m + 2; l <= l_max; ++l) {
          P[l * L + m] = ((2 * l - 1) * z * P[(l - 1) * L + m] - (l + m - 1) * P[(l - 2) * L + m]) * inv[l - m];
          dP[l * L + m] = ((2 * l - 1) * (P[(l - 1) * L + m] + z * dP[(l - 1) * L + m]) -
                           (l + m - 1) * dP[(l - 2) * L + m]) * inv[l - m];
        }
      }
      C[0] = 1.0;
      S[0] = 0.0;
      for (int m = 1; m <= l_max; ++m) {
        C[m] = x * C[m - 1] - y * S[m - 1];
        S[m] = x * S[m - 1] + y * C[m - 1];
      }
      double *Yp = &Y[p * n_lm];
      double *dYp = &dY[3 * p * n_lm];
      for (int l = 0; l <= l_max; ++l) {
        const int base = l * l + l;
        for (int m = 0; m <= l; ++m) {
          const double k = K[l * L + m];
          double vc, gcx, gcy, gcz;
          if (m == 0) {
            vc = k * P[l * L];
            gcx = 0.0;
            gcy = 0.0;
            gcz = k * dP[l * L];
          } else {
            const double plm = P[l * L + m];
            vc = k * plm * C[m];
            gcx = k * plm * m * C[m - 1];
            gcy = -k * plm * m * S[m - 1];
            gcz = k * dP[l * L + m] * C[m];
            const double vs = k * plm * S[m];
            const double gsx = k * plm * m * S[m - 1];
            const double gsy = k * plm * m * C[m - 1];
            const double gsz = k * dP[l * L + m] * S[m];
            Yp[base - m] = vs;
            const double radial_s = x * gsx + y * gsy + z * gsz;
            dYp[3 * (base - m)] = (gsx - x * radial_s) * inv_r;
            dYp[3 * (base - m) + 1] = (gsy - y * radial_s) * inv_r;
            dYp[3 * (base - m) + 2] = (gsz - z * radial_s) * inv_r;
          }
          Yp[base + m] = vc;
          const double radial_c = x * gcx + y * gcy + z * gcz;
          dYp[3 * (base + m)] = (gcx - x * radial_c) * inv_r;
          dYp[3 * (base + m) + 1] = (gcy - y * radial_c) * inv_r;
          dYp[3 * (base + m) + 2] = (gcz - z * radial_c) * inv_r;
        }
      }
    }
  }

  // sum_T sum_c W[T, c] prod_q aT[lm_Tq, c + off_Tq] over the patterns start..stop, gradient into
  // dEdaT (offsets 0 for compact invariants; s_q * n_basis per factor for complete ones)
  double ExpansionModel::merged_polynomial(int start, int stop)
  {
    double energy = 0.0;
    const int nc = n_ch;
    for (int T = start; T < stop; ++T) {
      const int degree = tuple_degree[T];
      const int nch = tuple_nch[T];
      const int *lm = &tuple_lm[T * tuple_width];
      const int *off = &tuple_off[T * tuple_width];
      const double *w = &tuple_w[(std::size_t) T * nc];
      if (degree == 4) {
        const double *x0 = &aT[lm[0] * nc + off[0]], *x1 = &aT[lm[1] * nc + off[1]],
                     *x2 = &aT[lm[2] * nc + off[2]], *x3 = &aT[lm[3] * nc + off[3]];
        double *g0 = &dEdaT[lm[0] * nc + off[0]], *g1 = &dEdaT[lm[1] * nc + off[1]],
               *g2 = &dEdaT[lm[2] * nc + off[2]], *g3 = &dEdaT[lm[3] * nc + off[3]];
        for (int c = 0; c < nch; ++c) {
          const double w01 = w[c] * x0[c] * x1[c];
          const double w23 = w[c] * x2[c] * x3[c];
          g0[c] += x1[c] * w23;
          g1[c] += x0[c] * w23;
          g2[c] += w01 * x3[c];
          g3[c] += w01 * x2[c];
          energy += w01 * x2[c] * x3[c];
        }
      } else if (degree == 3) {
        const double *x0 = &aT[lm[0] * nc + off[0]], *x1 = &aT[lm[1] * nc + off[1]], *x2 = &aT[lm[2] * nc + off[2]];
        double *g0 = &dEdaT[lm[0] * nc + off[0]], *g1 = &dEdaT[lm[1] * nc + off[1]], *g2 = &dEdaT[lm[2] * nc + off[2]];
        for (int c = 0; c < nch; ++c) {
          const double w01 = w[c] * x0[c] * x1[c];
          g0[c] += w[c] * x1[c] * x2[c];
          g1[c] += w[c] * x0[c] * x2[c];
          g2[c] += w01;
          energy += w01 * x2[c];
        }
      } else if (degree == 2) {
        const double *x0 = &aT[lm[0] * nc + off[0]], *x1 = &aT[lm[1] * nc + off[1]];
        double *g0 = &dEdaT[lm[0] * nc + off[0]], *g1 = &dEdaT[lm[1] * nc + off[1]];
        for (int c = 0; c < nch; ++c) {
          g0[c] += w[c] * x1[c];
          g1[c] += w[c] * x0[c];
          energy += w[c] * x0[c] * x1[c];
        }
      } else if (degree == 1) {
        const double *x0 = &aT[lm[0] * nc + off[0]];
        double *g0 = &dEdaT[lm[0] * nc + off[0]];
        for (int c = 0; c < nch; ++c) {
          g0[c] += w[c];
          energy += w[c] * x0[c];
        }
      } else {
        bool offset = false;
        for (int q = 0; q < degree; ++q)
          if (off[q] != 0) offset = true;
        for (int c = 0; c < nch; ++c) {
          if (w[c] == 0.0) continue;
          if (!offset) {
            energy += monomial_value_gradient(&aT[c], nc, lm, tuple_width, w[c], &dEdaT[c], nc, prefix.data());
            continue;
          }
          // prefix products from the left, suffix from the right: O(degree) per monomial
          prefix[0] = w[c];
          for (int q = 0; q < degree; ++q) prefix[q + 1] = prefix[q] * aT[lm[q] * nc + c + off[q]];
          double suffix = 1.0;
          for (int q = degree - 1; q >= 0; --q) {
            const double x = aT[lm[q] * nc + c + off[q]];
            dEdaT[lm[q] * nc + c + off[q]] += prefix[q] * suffix;
            suffix *= x;
          }
          energy += prefix[degree];
        }
      }
    }
    return energy;
  }

  double ExpansionModel::energy_gradient(int s, int n, const double *vec, const double *r, const int *sp,
                                         double *grad)
  {
    const int nb = radial.n_basis;
    radial_of_neighbours(n, r);
    harmonics(n, vec);
    const double *f = fbuf.data(), *df = dfbuf.data();
    // the expansion a[c, lm], then channel last (one angular pattern sweeps all channels)
    std::fill(a.begin(), a.end(), 0.0);
    for (int p = 0; p < n; ++p) {
      const int base = sp[p] * nb;
      const double *Yp = &Y[p * n_lm];
      for (int k = 0; k < nb; ++k) {
        const double fn = f[p * nb + k];
        double *row = &a[(base + k) * n_lm];
        for (int lm = 0; lm < n_lm; ++lm) row[lm] += fn * Yp[lm];
      }
    }
    for (int c = 0; c < n_ch; ++c)
      for (int lm = 0; lm < n_lm; ++lm) aT[lm * n_ch + c] = a[c * n_lm + lm];
    std::fill(dEdaT.begin(), dEdaT.end(), 0.0);
    double e = constant[s] + merged_polynomial(tuple_start[s], tuple_start[s + 1]);
    if (n_q > 0) {
      for (int k = 0; k < n_q; ++k) {
        const int type = q_type[k];
        double *g = &gB[k * n_lm];
        for (int lm = 0; lm < n_lm; ++lm) g[lm] = 0.0;
        const double *x = &a[q_channel[k] * n_lm];
        double value = 0.0;
        for (int en = type_entry_start[type]; en < type_entry_start[type + 1]; ++en)
          value += monomial_value_gradient(x, 1, &entry_lm[en * entry_width], entry_width, entry_coef[en], g, 1,
                                           prefix.data());
        gq[k] = (value - q_mean[k]) / q_scale[k];
      }
      std::fill(dEdg.begin(), dEdg.end(), 0.0);
      const double *coef = &q_coef[(std::size_t) s * n_q_terms];
      for (int term = 0; term < n_q_terms; ++term) {
        const double w = coef[term];
        if (w == 0.0) continue;
        e += monomial_value_gradient(gq.data(), 1, &q_terms[term * q_width], q_width, w, dEdg.data(), 1,
                                     prefix.data());
      }
      for (int k = 0; k < n_q; ++k) {
        const double wk = dEdg[k] / q_scale[k];
        if (wk == 0.0) continue;
        const int c = q_channel[k];
        for (int lm = 0; lm < n_lm; ++lm) dEdaT[lm * n_ch + c] += wk * gB[k * n_lm + lm];
      }
    }
    for (int lm = 0; lm < n_lm; ++lm)
      for (int c = 0; c < n_ch; ++c) dEda[c * n_lm + lm] = dEdaT[lm * n_ch + c];
    // one pass over the neighbours
    double *H0 = h0.data(), *H1 = h1.data();
    for (int p = 0; p < n; ++p) {
      const int base = sp[p] * nb;
      for (int lm = 0; lm < n_lm; ++lm) H0[lm] = H1[lm] = 0.0;
      for (int k = 0; k < nb; ++k) {
        const double fn = f[p * nb + k];
        const double dfn = df[p * nb + k];
        const double *row = &dEda[(base + k) * n_lm];
        for (int lm = 0; lm < n_lm; ++lm) {
          H0[lm] += row[lm] * fn;
          H1[lm] += row[lm] * dfn;
        }
      }
      const double *Yp = &Y[p * n_lm];
      const double *dYp = &dY[3 * p * n_lm];
      double radial_sum = 0.0, gx = 0.0, gy = 0.0, gz = 0.0;
      for (int lm = 0; lm < n_lm; ++lm) {
        radial_sum += H1[lm] * Yp[lm];
        gx += H0[lm] * dYp[3 * lm];
        gy += H0[lm] * dYp[3 * lm + 1];
        gz += H0[lm] * dYp[3 * lm + 2];
      }
      const double rr = r[p];
      grad[3 * p] = gx + radial_sum * vec[3 * p] / rr;
      grad[3 * p + 1] = gy + radial_sum * vec[3 * p + 1] / rr;
      grad[3 * p + 2] = gz + radial_sum * vec[3 * p + 2] / rr;
    }
    return e;
  }

  /* --------------------------------------------------------------------
     moment-tensor family
  ----------------------------------------------------------------------- */

  class MomentModel : public Model {
   public:
    explicit MomentModel(const json &block);
    double energy_gradient(int s, int n, const double *vec, const double *r, const int *sp,
                           double *grad) override;

   private:
    int n_comp, poly_width, n_mono, nu_max, n_sp, n_mu;
    std::vector<int> poly_start, poly_ids, mono_pow, index;
    std::vector<double> poly_coef, constant;
    std::vector<double> M, dEdM, Md, W, upow, mono, dmono, unit, prefix;
  };

  MomentModel::MomentModel(const json &block)
  {
    read_radial(block, radial);
    std::vector<int> comp_species = read_array(block, "comp_species", true).i;
    std::vector<int> comp_mu = read_array(block, "comp_mu", true).i;
    std::vector<int> comp_nu = read_array(block, "comp_nu", true).i;
    Table t = read_array(block, "comp_idx", true);
    std::vector<int> comp_idx = t.i;
    const int idx_width = (int) t.cols();
    poly_start = read_array(block, "poly_start", true).i;
    t = read_array(block, "poly_ids", true);
    poly_ids = t.i;
    poly_width = (int) t.cols();
    poly_coef = read_array(block, "poly_coef", false).f;
    constant = read_array(block, "const", false).f;
    n_comp = (int) comp_mu.size();
    const int n_elements = (int) block.at("elements").size();
    if ((int) constant.size() != n_elements || (int) poly_start.size() != n_elements + 1)
      throw std::runtime_error("evaluator tables do not match the number of species");
    for (int x : poly_ids)
      if (x >= n_comp) throw std::runtime_error("evaluator tables name a moment component they lack");

    // distinct monomials u^pw of the components (linpot/kernels/moment_tensors.py, _monomial_tables)
    nu_max = 0;
    for (int c = 0; c < n_comp; ++c) nu_max = std::max(nu_max, comp_nu[c]);
    const int n1 = nu_max + 1;
    std::vector<int> slot(n1 * n1 * n1, -1), comp_mono(n_comp, 0);
    n_mono = 0;
    for (int c = 0; c < n_comp; ++c) {
      int pw[3] = {0, 0, 0};
      for (int q = 0; q < comp_nu[c]; ++q) {
        const int axis = comp_idx[c * idx_width + q];
        pw[axis == 0 ? 0 : (axis == 1 ? 1 : 2)] += 1;
      }
      const int key = (pw[0] * n1 + pw[1]) * n1 + pw[2];
      if (slot[key] < 0) {
        slot[key] = n_mono++;
        mono_pow.insert(mono_pow.end(), pw, pw + 3);
      }
      comp_mono[c] = slot[key];
    }
    // dense layout Md[s, m, mu]
    n_sp = n_elements;
    n_mu = 1;
    for (int c = 0; c < n_comp; ++c) {
      n_sp = std::max(n_sp, comp_species[c] + 1);
      n_mu = std::max(n_mu, comp_mu[c] + 1);
    }
    if (n_mu > radial.n_basis) throw std::runtime_error("moment components exceed the radial basis");
    index.resize(n_comp);
    for (int c = 0; c < n_comp; ++c) index[c] = (comp_species[c] * n_mono + comp_mono[c]) * n_mu + comp_mu[c];
    M.assign(n_comp, 0.0);
    dEdM.assign(n_comp, 0.0);
    Md.assign(n_sp * n_mono * n_mu, 0.0);
    W.assign(n_sp * n_mono * n_mu, 0.0);
    upow.assign(3 * (nu_max + 1), 0.0);
    prefix.assign(poly_width + 1, 0.0);
  }

  double MomentModel::energy_gradient(int s, int n, const double *vec, const double *r, const int *sp,
                                      double *grad)
  {
    const int nb = radial.n_basis;
    radial_of_neighbours(n, r);
    const double *f = fbuf.data(), *df = dfbuf.data();
    if ((int) unit.size() < 3 * n) {
      unit.resize(6 * n);
      mono.resize(2 * n * n_mono);
      dmono.resize(6 * n * n_mono);
    }
    const int U = nu_max + 1;
    // the monomials of each neighbour's unit vector and their gradients
    for (int k = 0; k < n; ++k) {
      const double x = vec[3 * k], y = vec[3 * k + 1], z = vec[3 * k + 2];
      const double inv_r = 1.0 / std::sqrt(x * x + y * y + z * z);
      const double u0 = x * inv_r, u1 = y * inv_r, u2 = z * inv_r;
      unit[3 * k] = u0;
      unit[3 * k + 1] = u1;
      unit[3 * k + 2] = u2;
      upow[0] = upow[U] = upow[2 * U] = 1.0;
      for (int e = 1; e < U; ++e) {
        upow[e] = upow[e - 1] * u0;
        upow[U + e] = upow[U + e - 1] * u1;
        upow[2 * U + e] = upow[2 * U + e - 1] * u2;
      }
      for (int m = 0; m < n_mono; ++m) {
        const int pa = mono_pow[3 * m], pb = mono_pow[3 * m + 1], pc = mono_pow[3 * m + 2];
        const double v = upow[pa] * upow[U + pb] * upow[2 * U + pc];
        mono[k * n_mono + m] = v;
        const double nv = (pa + pb + pc) * v;
        double *d = &dmono[3 * (k * n_mono + m)];
        d[0] = ((pa > 0 ? pa * upow[pa - 1] * upow[U + pb] * upow[2 * U + pc] : 0.0) - nv * u0) * inv_r;
        d[1] = ((pb > 0 ? pb * upow[pa] * upow[U + pb - 1] * upow[2 * U + pc] : 0.0) - nv * u1) * inv_r;
        d[2] = ((pc > 0 ? pc * upow[pa] * upow[U + pb] * upow[2 * U + pc - 1] : 0.0) - nv * u2) * inv_r;
      }
    }
    // dense moments
    std::fill(Md.begin(), Md.end(), 0.0);
    for (int k = 0; k < n; ++k) {
      double *block = &Md[sp[k] * n_mono * n_mu];
      for (int m = 0; m < n_mono; ++m) {
        const double v = mono[k * n_mono + m];
        for (int mu = 0; mu < n_mu; ++mu) block[m * n_mu + mu] += v * f[k * nb + mu];
      }
    }
    for (int c = 0; c < n_comp; ++c) M[c] = Md[index[c]];
    std::fill(dEdM.begin(), dEdM.end(), 0.0);
    double e = constant[s];
    double poly = 0.0;
    for (int term = poly_start[s]; term < poly_start[s + 1]; ++term)
      poly += monomial_value_gradient(M.data(), 1, &poly_ids[term * poly_width], poly_width, poly_coef[term],
                                      dEdM.data(), 1, prefix.data());
    e += poly;
    std::fill(W.begin(), W.end(), 0.0);
    for (int c = 0; c < n_comp; ++c) W[index[c]] = dEdM[c];
    // forces through the moments
    for (int k = 0; k < n; ++k) {
      const double *Wk = &W[sp[k] * n_mono * n_mu];
      double a_sum = 0.0, gx = 0.0, gy = 0.0, gz = 0.0;
      for (int m = 0; m < n_mono; ++m) {
        double av = 0.0, bv = 0.0;
        for (int mu = 0; mu < n_mu; ++mu) {
          const double w = Wk[m * n_mu + mu];
          av += w * df[k * nb + mu];
          bv += w * f[k * nb + mu];
        }
        a_sum += av * mono[k * n_mono + m];
        const double *d = &dmono[3 * (k * n_mono + m)];
        gx += bv * d[0];
        gy += bv * d[1];
        gz += bv * d[2];
      }
      grad[3 * k] = gx + a_sum * unit[3 * k];
      grad[3 * k + 1] = gy + a_sum * unit[3 * k + 1];
      grad[3 * k + 2] = gz + a_sum * unit[3 * k + 2];
    }
    return e;
  }

}    // namespace

/* ---------------------------------------------------------------------- */

Model *read_model(const json &block)
{
  if (!block.is_object() || block.value("format", std::string()) != "linpot-evaluator-tables")
    throw std::runtime_error("its evaluator_tables block is not linpot evaluator tables");
  const int version = block.value("version", -1);
  if (version != 1 && version != 2)
    throw std::runtime_error("its evaluator tables have version " + std::to_string(version) +
                             ", this pair_style linpot reads versions 1 and 2 (rebuild it with: linpot lammps-plugin)");
  const std::string family = block.value("family", std::string());
  Model *model = nullptr;
  try {
    if (family == "expansion")
      model = new ExpansionModel(block);
    else if (family == "moment-tensors")
      model = new MomentModel(block);
    else
      throw std::runtime_error("evaluator tables of unknown family '" + family + "'");
    for (const auto &e : block.at("elements")) model->elements.push_back(e.get<std::string>());
  } catch (json::exception &exc) {
    delete model;
    throw std::runtime_error(std::string("invalid evaluator tables (") + exc.what() + ")");
  } catch (...) {
    delete model;
    throw;
  }
  model->family = family;
  return model;
}

}    // namespace LinpotEval
