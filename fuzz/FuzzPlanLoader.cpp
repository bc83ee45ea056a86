// libFuzzer target for the runtime's plan loader: bytes → loadPlan. A plan
// that loads must print back (toJson) as JSON that loads again to the same
// plan, since deployd relies on both directions.
#include "common/CanonicalJson.h"
#include "runtime/plan/Plan.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto plan = dpl::runtime::loadPlan(text);
  if (!plan) {
    llvm::consumeError(plan.takeError());
    return 0;
  }
  // Lookups the engine does on every tick.
  for (const auto &unit : plan->units) {
    (void)plan->unit(unit.id);
    for (const auto &state : unit.states)
      (void)unit.state(state.next);
  }
  std::string printed = dpl::prettyJson(dpl::runtime::toJson(*plan));
  auto again = dpl::runtime::loadPlan(printed);
  if (!again) {
    std::fprintf(stderr, "fuzz_plan_loader: a loaded plan does not load again once printed: %s\n%s\n",
                 llvm::toString(again.takeError()).c_str(), printed.c_str());
    std::abort();
  }
  if (dpl::prettyJson(dpl::runtime::toJson(*again)) != printed) {
    std::fprintf(stderr, "fuzz_plan_loader: printing a plan is not stable\n%s\n", printed.c_str());
    std::abort();
  }
  return 0;
}
