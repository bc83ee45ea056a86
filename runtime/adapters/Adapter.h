// Runtime adapters: turn "unit U should run version V" into operations on a
// real runtime. Every operation is idempotent and keyed by unit and version,
// so re-executing a journalled intent after a crash is harmless.
#pragma once

#include "runtime/engine/Engine.h"
#include "runtime/plan/Plan.h"

#include <llvm/Support/Error.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dpl::runtime {

class Adapter {
public:
  virtual ~Adapter() = default;
  /// What runs now. An unreadable runtime gives `reachable = false`.
  virtual UnitObservation observe(const PlanUnit &unit) = 0;
  /// Makes `version` the running version (no-op when it already is).
  virtual llvm::Error apply(const PlanUnit &unit, const std::string &version) = 0;
  /// Returns to `version` ("" = run nothing), skipping progressive steps.
  virtual llvm::Error rollback(const PlanUnit &unit, const std::string &version) = 0;
  /// Values a test command of `version` may use, e.g. {"port": "19020"} for
  /// `${port}` (the first replica's port). Empty by default.
  virtual std::map<std::string, std::string> variables(const PlanUnit &, const std::string &) { return {}; }
  /// The directories this adapter writes for `unit` (its runtime target):
  /// the daemon locks each, so two daemons never manage one (issue 10.13).
  virtual std::vector<std::string> targets(const PlanUnit &) { return {}; }
};

/// `static` runtime: each version in `<root>/versions/<version>`, served
/// through the symbolic link `<root>/current`, switched atomically (rename of
/// a new link over the old one); `keep` old versions are retained.
std::unique_ptr<Adapter> makeStaticAdapter();

/// `process` runtime: `replicas` detached local processes per unit under
/// `<workdir>/<service>`, ports `base_port + 20·service + 10·slot + replica`,
/// HTTP health, new version healthy before the old one stops. `apply` never
/// waits: it starts the new version beside the old; `observe` reports it
/// (health `unknown` until it listens) and completes the switch once it is
/// healthy.
std::unique_ptr<Adapter> makeProcessAdapter(const Plan &plan);

/// In a forked child: replaces the process with `argv` (no shell, PATH
/// lookup), or exits with 127 when it cannot be executed.
[[noreturn]] void execArgvOrExit(const std::vector<std::string> &argv);

} // namespace dpl::runtime
