// deployd's control API: the one way clients (the CLI today, an HTTP API
// and a dashboard later) read and change a running daemon. Each method is
// a handler in a table; who may call it is decided here, from the caller's
// identity and the plan (docs/security.md, "Who may do what").
#pragma once

#include "runtime/control/Identity.h"
#include "runtime/control/Server.h"
#include "runtime/plan/Plan.h"
#include "runtime/store/Store.h"

#include <functional>

namespace dpl::runtime {

/// What the daemon shares with its API.
struct ApiContext {
  const Plan &plan;
  Store &store;
  IdentityConfig identities;
  std::function<int64_t()> now;   ///< the engine's clock
  unsigned daemonUid = 0;         ///< the user deployd runs as (an admin)
  const bool *idle = nullptr;     ///< the daemon's last ticks did nothing
  /// Called after a request that changed the state: the daemon is not idle
  /// until its next ticks have seen the change.
  std::function<void()> changed;
  std::string planPath;
  /// Stops the workloads of units of older plans (`prune`); returns how
  /// many could not be stopped.
  std::function<size_t(const std::vector<const PlanUnit *> &)> stopUnits;
  /// Where the daemon keeps a copy of every plan it ran (`prune` finds a
  /// removed unit's runtime there).
  std::string plansDir;
};

/// Answers one request: `{"method", "params", "token"?}` →
/// `{"result": {...}}` or `{"error": {"code", "message"}}`, codes
/// `invalid`, `not-found`, `unauthenticated`, `forbidden`, `conflict`,
/// `failed`.
llvm::json::Value handleControlRequest(ApiContext &ctx, const llvm::json::Object &request, const Peer &peer);

/// Status rows for `deployd status` from a store (also read directly,
/// read-only, when no daemon runs). Units in rollout order when `plan` is
/// given: environment depth along `after`, then environment, then service;
/// units the store knows but the plan does not are marked orphaned.
llvm::json::Object statusSnapshot(Store &store, const Plan *plan);

/// Journal entries as JSON (`deployd history`): all, one unit (SERVICE@ENV)
/// or one service (SERVICE: its units and its release requests).
llvm::Expected<llvm::json::Array> historyEntries(Store &store, const std::string &filter);

} // namespace dpl::runtime
