// `deployd resume SERVICE@ENV`: lets queued releases deploy to a unit a
// person rolled back by hand.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupResume(CLI::App &sub, Globals &g) {
  auto unit = std::make_shared<std::string>();
  sub.add_option("UNIT", *unit, "Unit to resume, as SERVICE@ENV")->required();
  return [&g, unit] {
    llvm::json::Object r;
    if (int rc = callDaemon(g, "resume", llvm::json::Object{{"unit", *unit}}, r); rc >= 0)
      return rc;
    llvm::outs() << (r.getBoolean("was_pinned").getValueOr(false) ? "resumed " : "not pinned: ") << safe(*unit)
                 << "\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
