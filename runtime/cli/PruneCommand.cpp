// `deployd prune ENV`: stops the workloads of an environment removed from
// the plan (shown `orphaned` in status) and forgets its units. Admins only.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupPrune(CLI::App &sub, Globals &g) {
  auto env = std::make_shared<std::string>();
  sub.add_option("ENV", *env, "An environment no longer in the plan")->required();
  return [&g, env] {
    llvm::json::Object r;
    if (int rc = callDaemon(g, "prune", llvm::json::Object{{"environment", *env}}, r); rc >= 0)
      return rc;
    if (const llvm::json::Array *units = r.getArray("units"))
      for (auto &u : *units)
        llvm::outs() << "pruned " << safe(u.getAsString().getValueOr("")) << ": workload stopped, unit forgotten\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
