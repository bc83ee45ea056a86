// `deployd rollback SERVICE@ENV`: return the unit to its last known good
// version at the next tick and pin it there until `deployd resume`.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupRollback(CLI::App &sub, Globals &g) {
  auto unit = std::make_shared<std::string>();
  sub.add_option("UNIT", *unit, "Unit to roll back, as SERVICE@ENV")->required();
  return [&g, unit] {
    llvm::json::Object r;
    if (int rc = callDaemon(g, "rollback", llvm::json::Object{{"unit", *unit}}, r); rc >= 0)
      return rc;
    llvm::outs() << "rollback of " << safe(*unit) << " requested by " << safe(r.getString("by").getValueOr(""))
                 << "; the engine restores the last known good version at its next tick and pins the unit\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
