// `deployd approve SERVICE@ENV [--release R]`: the caller approves the
// release the unit works on now (or R), as a member of one of its approval
// groups, and is told which release that is.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupApprove(CLI::App &sub, Globals &g) {
  auto unit = std::make_shared<std::string>(), release = std::make_shared<std::string>();
  sub.add_option("UNIT", *unit, "Unit to approve, as SERVICE@ENV (e.g. api@prod)")->required();
  sub.add_option("--release", *release, "Approve this release (default: the one the unit works on now)");
  return [&g, unit, release] {
    llvm::json::Object params{{"unit", *unit}};
    if (!release->empty())
      params["release"] = *release;
    llvm::json::Object r;
    if (int rc = callDaemon(g, "approve", std::move(params), r); rc >= 0)
      return rc;
    std::string what = safe(r.getString("unit").getValueOr("")) + " release " +
                       safe(r.getString("release").getValueOr("")) + " (" +
                       safe(r.getString("version").getValueOr("")) + ")";
    std::string who = safe(r.getString("by").getValueOr(""));
    if (r.getBoolean("already").getValueOr(false))
      llvm::outs() << who << " already approved " << what << "; nothing changed\n";
    else
      llvm::outs() << "approved " << what << " as " << who << " (group "
                   << safe(r.getString("group").getValueOr("")) << ")\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
