// `deployd resource NAME ready|not-ready`: records an external resource's
// state (a migration done, release notes published) for resource gates.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupResource(CLI::App &sub, Globals &g) {
  auto name = std::make_shared<std::string>(), state = std::make_shared<std::string>();
  sub.add_option("NAME", *name, "Resource name, as a resource guard waits for it")->required();
  sub.add_option("STATE", *state, "ready or not-ready")->required();
  return [&g, name, state] {
    llvm::json::Object r;
    if (int rc = callDaemon(g, "resource", llvm::json::Object{{"name", *name}, {"state", *state}}, r); rc >= 0)
      return rc;
    llvm::outs() << "resource " << safe(*name) << ": " << safe(*state) << "\n";
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
