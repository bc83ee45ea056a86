// The runtime's durable store: engine state, the decision journal, action
// intents (written before they run, marked done after), approvals and
// resource states. SQLite in WAL mode is the embedded default (one file,
// versioned schema migrations, safe to share between a daemon and CLI
// commands).
#pragma once

#include "runtime/engine/Engine.h"

#include <llvm/Support/Error.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dpl::runtime {

struct JournalEntry {
  int64_t id = 0;
  int64_t atMs = 0;
  Transition transition;
};

/// commitStep's refusal: the stored state is newer than the decision's.
class StateConflict : public llvm::ErrorInfo<StateConflict> {
public:
  static char ID;
  void log(llvm::raw_ostream &os) const override { os << "the engine state changed during the step"; }
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }
};

/// An API token an admin created (`deployd token create @alice`). Only the
/// SHA-256 of the token is stored.
struct TokenRecord {
  std::string hash, identity, createdBy;
  int64_t createdAtMs = 0, revokedAtMs = -1;
};

/// One person's approval of one release of one unit, as a member of
/// `group`, under the plan `planHash`.
struct ApprovalRecord {
  std::string unit, release, group, person, planHash;
};

class Store {
public:
  virtual ~Store() = default;

  /// The engine state as last committed (empty on a new store), and its
  /// revision (incremented by every write) when `revision` is given.
  virtual llvm::Expected<EngineState> loadState(int64_t *revision = nullptr) = 0;
  /// One decision, atomically: the new state, its journal entries and its
  /// action intents (not yet done). Nothing is half-written on a crash.
  /// With `expectedRevision` ≥ 0 the commit is refused with a StateConflict
  /// error, writing nothing, when the state changed since it was loaded at
  /// that revision (a CLI command recorded a release meanwhile): the caller
  /// decides again on the new state instead of overwriting it.
  virtual llvm::Error commitStep(const EngineState &state, const std::vector<Transition> &journal,
                                 const std::vector<Action> &actions, int64_t nowMs,
                                 int64_t expectedRevision = -1) = 0;
  /// Intents not marked done, oldest first: what to (re-)execute on start.
  virtual llvm::Expected<std::vector<Action>> pendingIntents() = 0;
  virtual llvm::Error markDone(const std::string &key, int64_t nowMs) = 0;

  virtual llvm::Error addRelease(const Release &release) = 0;
  /// Applies `change` to the stored engine state in one transaction (for
  /// CLI commands such as `rollback` and `resume`).
  virtual llvm::Error mutateState(const std::function<void(EngineState &)> &change, int64_t nowMs) = 0;
  /// Idempotent: the same person, unit, release and group once.
  virtual llvm::Error recordApproval(const ApprovalRecord &approval, int64_t nowMs) = 0;
  virtual llvm::Error setResource(const std::string &name, bool ready, int64_t nowMs) = 0;
  /// Approvals and resource states in the shape the engine observes them.
  virtual llvm::Error loadSignals(Observations &into) = 0;
  /// What the daemon last saw of each unit (for `status`: actual versions).
  virtual llvm::Error recordObservations(const std::map<std::string, UnitObservation> &units, int64_t nowMs) = 0;
  struct Observed {
    UnitObservation observation;
    int64_t atMs = 0;
  };
  virtual llvm::Expected<std::map<std::string, Observed>> observations() = 0;
  /// Drops what the store knows of `units` (runs, last good versions, pins,
  /// observations) in one transaction: `prune` of a removed environment.
  virtual llvm::Error forgetUnits(const std::vector<std::string> &units, int64_t nowMs) = 0;
  /// Person-initiated changes (a release, an approval, a rollback request,
  /// a token created) journalled with who, outside an engine step.
  virtual llvm::Error appendJournal(const std::vector<Transition> &entries, int64_t nowMs) = 0;
  virtual llvm::Error addToken(const TokenRecord &token) = 0;
  /// The live (not revoked) token with this hash, if any.
  virtual llvm::Expected<std::optional<TokenRecord>> findToken(const std::string &hash) = 0;
  virtual llvm::Expected<std::vector<TokenRecord>> tokens() = 0;
  /// Revokes every live token of `identity`; returns how many.
  virtual llvm::Expected<int> revokeTokens(const std::string &identity, int64_t nowMs) = 0;
  /// Journal entries, oldest first; all units when `unit` is empty.
  virtual llvm::Expected<std::vector<JournalEntry>> history(const std::string &unit) = 0;
};

/// Opens (creating and migrating as needed) the SQLite store at `path`.
/// The file (and its WAL and shared-memory files) are created 0600.
llvm::Expected<std::unique_ptr<Store>> openSqliteStore(const std::string &path);
/// Opens an existing store for reading only (`status` and `history` while
/// no daemon runs): every write fails, nothing is created or migrated.
llvm::Expected<std::unique_ptr<Store>> openSqliteStoreReadOnly(const std::string &path);

/// The schema version this build writes (PRAGMA user_version).
inline constexpr int kStoreSchemaVersion = 5;

/// Engine state as JSON (for the store and for `deployd status`).
llvm::json::Value stateToJson(const EngineState &state);
llvm::Expected<EngineState> stateFromJson(const llvm::json::Value &v);

} // namespace dpl::runtime
