// `deployd down`: stops every workload of the plan (they otherwise outlive
// deployd). Refused while a `deployd run` holds the store.
#include "runtime/cli/Cli.h"

#include "runtime/daemon/Daemon.h"

#include <llvm/Support/raw_ostream.h>

#include <filesystem>

namespace dpl::runtime::cli {

bool holdRunLock(const std::string &statePath);

Runner setupDown(CLI::App &sub, Globals &g) {
  auto plan = std::make_shared<std::string>(".deploy/plan.json");
  sub.add_option("--plan", *plan, "Compiled plan");
  return [&g, plan] {
    auto p = loadPlanFile(*plan);
    if (!p)
      return fail(llvm::toString(p.takeError()), ExitUsage);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(g.state, ec))
      return fail("no deployd store at " + g.state + " (pass --state FILE)", ExitUsage);
    if (!holdRunLock(g.state))
      return fail("a `deployd run` is using " + g.state + " (lock " + g.state + ".lock is held); stop it first",
                  ExitUsage);
    auto store = openSqliteStore(g.state);
    if (!store)
      return fail(llvm::toString(store.takeError()), ExitUsage);
    Daemon daemon(*p, **store, [](const std::string &line) { llvm::outs() << safe(line) << "\n"; });
    if (llvm::Error e = daemon.lockTargets())
      return fail(llvm::toString(std::move(e)), ExitUsage);
    return daemon.stopAll() ? int(ExitFailure) : int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
