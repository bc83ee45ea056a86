// `deployd release SERVICE VERSION`: asks the running daemon to roll out
// VERSION of SERVICE. The releaser is the caller (never a flag).
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupRelease(CLI::App &sub, Globals &g) {
  auto service = std::make_shared<std::string>(), version = std::make_shared<std::string>();
  sub.add_option("SERVICE", *service, "Service to release")->required();
  sub.add_option("VERSION", *version, "Version to roll out")->required();
  return [&g, service, version] {
    llvm::json::Object r;
    if (int rc = callDaemon(g, "release", llvm::json::Object{{"service", *service}, {"version", *version}}, r); rc >= 0)
      return rc;
    llvm::outs() << "release " << safe(r.getString("release").getValueOr("")) << ": " << safe(*service) << " "
                 << safe(*version) << " by " << safe(r.getString("by").getValueOr("")) << "\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
