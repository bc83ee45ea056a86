// `deployd wait --idle [--timeout D]`: returns once the running daemon has
// nothing to do until a release, an approval, a resource or the clock
// changes (what `run --until-idle` waits for), for scripts and tests.
#include "runtime/cli/Cli.h"

#include "common/Time.h"

#include <llvm/Support/raw_ostream.h>

#include <chrono>

namespace dpl::runtime::cli {

Runner setupWait(CLI::App &sub, Globals &g) {
  auto timeout = std::make_shared<std::string>("5m");
  auto idle = std::make_shared<bool>(false);
  sub.add_flag("--idle", *idle, "Wait until the daemon is idle")->required();
  sub.add_option("--timeout", *timeout, "Give up after this long (exit 1)");
  return [&g, timeout, idle] {
    auto limit = dpl::parseDurationText(*timeout);
    if (!limit)
      return fail("--timeout: expected a duration such as 30s or 5m, found `" + *timeout + "`", ExitUsage);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*limit);
    stopOnSignals();
    while (!stopRequested()) {
      llvm::json::Object r;
      if (int rc = callDaemon(g, "idle", llvm::json::Object{}, r); rc >= 0)
        return rc;
      if (r.getBoolean("idle").getValueOr(false))
        return int(ExitOk);
      if (std::chrono::steady_clock::now() > deadline)
        return fail("the daemon was still busy after " + *timeout);
      sleepInterruptibly(100);
    }
    return int(ExitFailure);
  };
}

} // namespace dpl::runtime::cli
