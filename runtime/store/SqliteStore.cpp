// SQLite implementation of the store.
#include "runtime/store/Store.h"

#include "common/CanonicalJson.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <chrono>
#include <thread>

namespace dpl::runtime {

char StateConflict::ID = 0;

using llvm::json::Array;
using llvm::json::Object;

// ------------------------------------------------------------ state JSON

static const char *kPhases[] = {"waiting", "gated", "applying", "verifying", "succeeded",
                                "rolling-back", "rolled-back", "rollback-failed", "halted"};

llvm::json::Value stateToJson(const EngineState &s) {
  Array releases;
  for (auto &r : s.releases)
    releases.push_back(Object{{"id", r.id}, {"service", r.service}, {"version", r.version},
                              {"created_by", r.createdBy}, {"created_at_ms", r.createdAtMs},
                              {"plan_hash", r.planHash}});
  Object runs;
  for (auto &[unit, r] : s.runs)
    runs[unit] = Object{{"release", r.release},
                        {"version", r.version},
                        {"previous_version", r.previousVersion},
                        {"phase", kPhases[static_cast<int>(r.phase)]},
                        {"state", int64_t(r.state)},
                        {"machine", r.machine},
                        {"lost_since_ms", r.lostSinceMs},
                        {"drift_since_ms", r.driftSinceMs},
                        {"next_repair_ms", r.nextRepairMs},
                        {"repairs", int64_t(r.repairs)},
                        {"entered_at_ms", r.enteredAtMs},
                        {"healthy_since_ms", r.healthySinceMs},
                        {"notified", r.notified},
                        {"test_started", r.testStarted},
                        {"waiting_on", r.waitingOn},
                        {"disconnected_since_ms", r.disconnectedSinceMs}};
  auto toObject = [](const std::map<std::string, std::string> &m) {
    Object o;
    for (auto &[k, v] : m)
      o[k] = v;
    return o;
  };
  return Object{{"releases", std::move(releases)},
                {"runs", std::move(runs)},
                {"last_good", toObject(s.lastGood)},
                {"last_good_release", toObject(s.lastGoodRelease)},
                {"pinned", toObject(s.pinned)},
                {"rollback_requests", toObject(s.rollbackRequests)},
                {"plan_hash", s.planHash}};
}

llvm::Expected<EngineState> stateFromJson(const llvm::json::Value &v) {
  auto bad = [](const std::string &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "corrupt engine state: %s", what.c_str());
  };
  const Object *o = v.getAsObject();
  if (!o)
    return bad("not an object");
  EngineState s;
  if (const Array *rs = o->getArray("releases"))
    for (auto &r : *rs) {
      const Object *ro = r.getAsObject();
      if (!ro)
        return bad("release is not an object");
      Release rel;
      rel.id = ro->getString("id").getValueOr("").str();
      rel.service = ro->getString("service").getValueOr("").str();
      rel.version = ro->getString("version").getValueOr("").str();
      rel.createdBy = ro->getString("created_by").getValueOr("").str();
      rel.createdAtMs = ro->getInteger("created_at_ms").getValueOr(0);
      rel.planHash = ro->getString("plan_hash").getValueOr("").str();
      // As strict as the plan: a tampered version would name a path.
      if (rel.id.empty() || rel.service.empty() || !validVersion(rel.version))
        return bad("release " + std::to_string(s.releases.size()) + " has an invalid id, service or version `" +
                   rel.version + "`");
      s.releases.push_back(rel);
    }
  if (const Object *runs = o->getObject("runs"))
    for (auto &[unit, rv] : *runs) {
      const Object *ro = rv.getAsObject();
      if (!ro)
        return bad("run is not an object");
      UnitRun r;
      r.release = ro->getString("release").getValueOr("").str();
      r.version = ro->getString("version").getValueOr("").str();
      r.previousVersion = ro->getString("previous_version").getValueOr("").str();
      std::string phase = ro->getString("phase").getValueOr("").str();
      bool known = false;
      for (int i = 0; i < 9; ++i)
        if (phase == kPhases[i]) {
          r.phase = static_cast<RunPhase>(i);
          known = true;
        }
      if (!known)
        return bad("unknown phase `" + phase + "`");
      r.state = size_t(ro->getInteger("state").getValueOr(0));
      r.enteredAtMs = ro->getInteger("entered_at_ms").getValueOr(0);
      r.healthySinceMs = ro->getInteger("healthy_since_ms").getValueOr(-1);
      r.notified = ro->getBoolean("notified").getValueOr(false);
      r.testStarted = ro->getBoolean("test_started").getValueOr(false);
      r.waitingOn = ro->getString("waiting_on").getValueOr("").str();
      r.disconnectedSinceMs = ro->getInteger("disconnected_since_ms").getValueOr(-1);
      r.machine = ro->getString("machine").getValueOr("").str();
      r.lostSinceMs = ro->getInteger("lost_since_ms").getValueOr(-1);
      r.driftSinceMs = ro->getInteger("drift_since_ms").getValueOr(-1);
      r.nextRepairMs = ro->getInteger("next_repair_ms").getValueOr(0);
      r.repairs = int(ro->getInteger("repairs").getValueOr(0));
      if (!unit.str().find('@') || unit.str().find('@') == std::string::npos ||
          (!r.version.empty() && !validVersion(r.version)) ||
          (!r.previousVersion.empty() && !validVersion(r.previousVersion)))
        return bad("run of `" + unit.str() + "` has an invalid unit or version");
      s.runs[unit.str()] = r;
    }
  auto fromObject = [&](const char *key, std::map<std::string, std::string> &into) {
    if (const Object *m = o->getObject(key))
      for (auto &[k, v] : *m)
        into[k.str()] = v.getAsString().getValueOr("").str();
  };
  fromObject("last_good", s.lastGood);
  fromObject("last_good_release", s.lastGoodRelease);
  fromObject("pinned", s.pinned);
  fromObject("rollback_requests", s.rollbackRequests);
  for (auto &[unit, version] : s.lastGood)
    if (!version.empty() && !validVersion(version))
      return bad("last good version of `" + unit + "` is invalid");
  s.planHash = o->getString("plan_hash").getValueOr("").str();
  return s;
}

static llvm::json::Value actionToJson(const Action &a) {
  return Object{{"kind", int64_t(a.kind)}, {"unit", a.unit}, {"release", a.release},
                {"version", a.version}, {"detail", a.detail}};
}
/// An intent as stored, validated as strictly as the plan: a tampered
/// kind or version (`../../etc`) is an error naming the intent, never run.
static llvm::Expected<Action> actionFromJson(const llvm::json::Value &v, const std::string &key) {
  auto bad = [&](const std::string &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "corrupt intent `%s`: %s", key.c_str(),
                                   what.c_str());
  };
  const Object *o = v.getAsObject();
  if (!o)
    return bad("not an object");
  auto kind = o->getInteger("kind");
  if (!kind || *kind < 0 || *kind > int64_t(Action::Kind::RunTest))
    return bad("unknown kind");
  Action a{static_cast<Action::Kind>(*kind), o->getString("unit").getValueOr("").str(),
           o->getString("release").getValueOr("").str(), o->getString("version").getValueOr("").str(),
           o->getString("detail").getValueOr("").str()};
  if (a.unit.find('@') == std::string::npos)
    return bad("invalid unit `" + a.unit + "`");
  if (!a.version.empty() && !validVersion(a.version))
    return bad("invalid version `" + a.version + "`");
  if (a.key() != key)
    return bad("its key does not match its content");
  return a;
}

// --------------------------------------------------------------- SQLite

namespace {

/// Schema migrations, in order; migration i brings user_version from i to i+1.
const char *const kMigrations[] = {
    R"sql(
    CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
    CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, unit TEXT NOT NULL,
                          release TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, why TEXT NOT NULL);
    CREATE INDEX journal_unit ON journal (unit, id);
    CREATE TABLE intents (key TEXT PRIMARY KEY, action TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
                          done_at_ms INTEGER);
    CREATE TABLE approvals (unit TEXT NOT NULL, release TEXT NOT NULL, person TEXT NOT NULL, at_ms INTEGER NOT NULL,
                            PRIMARY KEY (unit, release, person));
    CREATE TABLE resources (name TEXT PRIMARY KEY, ready INTEGER NOT NULL, at_ms INTEGER NOT NULL);
    )sql",
    R"sql(
    CREATE TABLE observations (unit TEXT PRIMARY KEY, reachable INTEGER NOT NULL, version TEXT NOT NULL,
                               health INTEGER NOT NULL, degraded INTEGER NOT NULL, at_ms INTEGER NOT NULL);
    )sql",
    R"sql(
    ALTER TABLE state ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    )sql",
    // Approvals name the group they were given as and the plan they were
    // given under; approvals from before count for no gate (issue 10.2).
    R"sql(
    CREATE TABLE approvals_v4 (unit TEXT NOT NULL, release TEXT NOT NULL, grp TEXT NOT NULL, person TEXT NOT NULL,
                               plan_hash TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (unit, release, grp, person));
    INSERT INTO approvals_v4 SELECT unit, release, '', person, '', at_ms FROM approvals;
    DROP TABLE approvals;
    ALTER TABLE approvals_v4 RENAME TO approvals;
    )sql",
    R"sql(
    CREATE TABLE tokens (hash TEXT PRIMARY KEY, identity TEXT NOT NULL, created_by TEXT NOT NULL,
                         created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER);
    )sql",
};

class SqliteStore : public Store {
public:
  explicit SqliteStore(sqlite3 *db, bool readOnly = false) : db_(db), readOnly_(readOnly) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  llvm::Error init() {
    // First: a CLI command and the daemon take turns, even while one of
    // them is switching the file to WAL or migrating it.
    sqlite3_busy_timeout(db_, 5000);
    if (readOnly_) {
      int version = 0;
      if (auto e = query("PRAGMA user_version", {}, [&](sqlite3_stmt *s) { version = sqlite3_column_int(s, 0); }))
        return e;
      if (version != int(std::size(kMigrations)))
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "the state file has schema version %d; this deployd reads %d (start "
                                       "`deployd run` once to migrate it)",
                                       version, int(std::size(kMigrations)));
      return llvm::Error::success();
    }
    // Switching a new file to WAL takes an exclusive lock for which SQLite
    // may answer "locked" at once instead of waiting (another process is
    // switching it): retried for up to 5 s.
    for (int attempt = 0;; ++attempt) {
      llvm::Error e = exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
      if (!e)
        break;
      if (attempt == 250)
        return e;
      llvm::consumeError(std::move(e));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Each migration reads the version inside its own immediate transaction:
    // two processes opening a new file at once (the daemon and a CLI
    // command) never both apply the same migration.
    int target = int(std::size(kMigrations));
    for (;;) {
      if (auto e = exec("BEGIN IMMEDIATE;"))
        return e;
      int version = 0;
      if (auto e = query("PRAGMA user_version", {}, [&](sqlite3_stmt *s) { version = sqlite3_column_int(s, 0); })) {
        llvm::consumeError(exec("ROLLBACK;"));
        return e;
      }
      if (version > target) {
        llvm::consumeError(exec("ROLLBACK;"));
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "the state file has schema version %d, newer than this deployd (%d)", version,
                                       target);
      }
      if (version == target)
        return exec("COMMIT;");
      std::string sql = std::string(kMigrations[version]) + "PRAGMA user_version=" + std::to_string(version + 1) +
                        "; COMMIT;";
      if (auto e = exec(sql.c_str())) {
        llvm::consumeError(exec("ROLLBACK;"));
        return e;
      }
    }
  }

  llvm::Expected<EngineState> loadState(int64_t *revision = nullptr) override {
    std::string json;
    int64_t rev = 0;
    if (auto e = query("SELECT json, revision FROM state WHERE id = 1", {}, [&](sqlite3_stmt *s) {
          json = reinterpret_cast<const char *>(sqlite3_column_text(s, 0));
          rev = sqlite3_column_int64(s, 1);
        }))
      return e;
    if (revision)
      *revision = rev;
    lastRevision_ = rev;
    if (json != lastWritten_)
      lastWritten_.clear();
    if (json.empty())
      return EngineState{};
    auto v = llvm::json::parse(json);
    if (!v)
      return v.takeError();
    return stateFromJson(*v);
  }

  llvm::Error commitStep(const EngineState &state, const std::vector<Transition> &journal,
                         const std::vector<Action> &actions, int64_t now, int64_t expectedRevision = -1) override {
    // A tick that changed nothing writes nothing (no revision, no fsync).
    std::string text = canonicalJson(stateToJson(state));
    if (journal.empty() && actions.empty() && text == lastWritten_) {
      if (expectedRevision < 0 || expectedRevision == lastRevision_)
        return llvm::Error::success();
    }
    if (auto e = exec("BEGIN IMMEDIATE;"))
      return e;
    auto fail = [&](llvm::Error e) {
      llvm::consumeError(exec("ROLLBACK;"));
      return e;
    };
    if (expectedRevision >= 0) {
      int64_t rev = 0;
      if (auto e = query("SELECT revision FROM state WHERE id = 1", {},
                         [&](sqlite3_stmt *s) { rev = sqlite3_column_int64(s, 0); }))
        return fail(std::move(e));
      if (rev != expectedRevision)
        return fail(llvm::make_error<StateConflict>());
    }
    if (auto e = writeText(text, now))
      return fail(std::move(e));
    for (auto &t : journal)
      if (auto e = run("INSERT INTO journal (at_ms, unit, release, from_state, to_state, why) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       {std::to_string(now), t.unit, t.release, t.from, t.to, t.why}))
        return fail(std::move(e));
    for (auto &a : actions)
      if (auto e = run("INSERT OR IGNORE INTO intents (key, action, created_at_ms) VALUES (?1, ?2, ?3)",
                       {a.key(), canonicalJson(actionToJson(a)), std::to_string(now)}))
        return fail(std::move(e));
    return exec("COMMIT;");
  }

  llvm::Expected<std::vector<Action>> pendingIntents() override {
    std::vector<Action> out;
    llvm::Error bad = llvm::Error::success();
    if (auto e = query("SELECT action, key FROM intents WHERE done_at_ms IS NULL ORDER BY created_at_ms, rowid", {},
                       [&](sqlite3_stmt *s) {
                         if (bad)
                           return;
                         std::string key = col(s, 1);
                         auto v = llvm::json::parse(col(s, 0));
                         if (!v) {
                           bad = llvm::createStringError(llvm::inconvertibleErrorCode(), "corrupt intent `%s`: %s",
                                                         key.c_str(), llvm::toString(v.takeError()).c_str());
                           return;
                         }
                         auto a = actionFromJson(*v, key);
                         if (!a)
                           bad = a.takeError();
                         else
                           out.push_back(std::move(*a));
                       })) {
      llvm::consumeError(std::move(bad));
      return e;
    }
    if (bad)
      return bad;
    return out;
  }

  llvm::Error markDone(const std::string &key, int64_t now) override {
    return run("UPDATE intents SET done_at_ms = ?2 WHERE key = ?1 AND done_at_ms IS NULL", {key, std::to_string(now)});
  }

  llvm::Error addRelease(const Release &r) override {
    return mutateState([&](EngineState &s) { s.releases.push_back(r); }, r.createdAtMs);
  }

  llvm::Error mutateState(const std::function<void(EngineState &)> &change, int64_t now) override {
    // Read-modify-write in one immediate transaction: the daemon's commits
    // and CLI commands never interleave inside it.
    if (auto e = exec("BEGIN IMMEDIATE;"))
      return e;
    auto state = loadState();
    if (!state) {
      llvm::consumeError(exec("ROLLBACK;"));
      return state.takeError();
    }
    change(*state);
    if (auto e = writeState(*state, now)) {
      llvm::consumeError(exec("ROLLBACK;"));
      return e;
    }
    return exec("COMMIT;");
  }

  /// Inside a transaction: the new state, one revision later.
  llvm::Error writeState(const EngineState &state, int64_t now) {
    return writeText(canonicalJson(stateToJson(state)), now);
  }
  llvm::Error writeText(const std::string &text, int64_t now) {
    if (auto e = run("INSERT INTO state (id, json, updated_at_ms, revision) VALUES (1, ?1, ?2, 1) "
                     "ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at_ms = excluded.updated_at_ms, "
                     "revision = state.revision + 1",
                     {text, std::to_string(now)}))
      return e;
    lastWritten_ = text;
    lastRevision_ = -2; // known again at the next loadState
    return llvm::Error::success();
  }

  llvm::Error recordApproval(const ApprovalRecord &a, int64_t now) override {
    return run("INSERT OR IGNORE INTO approvals (unit, release, grp, person, plan_hash, at_ms) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
               {a.unit, a.release, a.group, a.person, a.planHash, std::to_string(now)});
  }

  llvm::Error setResource(const std::string &name, bool ready, int64_t now) override {
    return run("INSERT INTO resources (name, ready, at_ms) VALUES (?1, ?2, ?3) "
               "ON CONFLICT (name) DO UPDATE SET ready = excluded.ready, at_ms = excluded.at_ms",
               {name, ready ? "1" : "0", std::to_string(now)});
  }

  llvm::Error recordObservations(const std::map<std::string, UnitObservation> &units, int64_t now) override {
    if (auto e = exec("BEGIN IMMEDIATE;"))
      return e;
    for (auto &[unit, o] : units)
      if (auto e = run("INSERT INTO observations (unit, reachable, version, health, degraded, at_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (unit) DO UPDATE SET reachable = excluded.reachable, "
                       "version = excluded.version, health = excluded.health, degraded = excluded.degraded, "
                       "at_ms = excluded.at_ms",
                       {unit, o.reachable ? "1" : "0", o.version, std::to_string(int(o.health)), o.degraded ? "1" : "0",
                        std::to_string(now)})) {
        llvm::consumeError(exec("ROLLBACK;"));
        return e;
      }
    return exec("COMMIT;");
  }

  llvm::Expected<std::map<std::string, Observed>> observations() override {
    std::map<std::string, Observed> out;
    if (auto e = query("SELECT unit, reachable, version, health, degraded, at_ms FROM observations", {},
                       [&](sqlite3_stmt *s) {
                         Observed &o = out[col(s, 0)];
                         o.observation.reachable = sqlite3_column_int(s, 1) != 0;
                         o.observation.version = col(s, 2);
                         o.observation.health = static_cast<Health>(sqlite3_column_int(s, 3));
                         o.observation.degraded = sqlite3_column_int(s, 4) != 0;
                         o.atMs = sqlite3_column_int64(s, 5);
                       }))
      return e;
    return out;
  }

  llvm::Error loadSignals(Observations &into) override {
    if (auto e = query("SELECT unit, release, grp, person FROM approvals", {}, [&](sqlite3_stmt *s) {
          into.approvals[col(s, 0) + "|" + col(s, 1) + "|" + col(s, 2)].insert(col(s, 3));
        }))
      return e;
    return query("SELECT name, ready FROM resources", {},
                 [&](sqlite3_stmt *s) { into.resources[col(s, 0)] = sqlite3_column_int(s, 1) != 0; });
  }

  llvm::Error forgetUnits(const std::vector<std::string> &units, int64_t now) override {
    if (auto e = exec("BEGIN IMMEDIATE;"))
      return e;
    auto fail = [&](llvm::Error e) {
      llvm::consumeError(exec("ROLLBACK;"));
      return e;
    };
    auto state = loadState();
    if (!state)
      return fail(state.takeError());
    for (const std::string &u : units) {
      state->runs.erase(u);
      state->lastGood.erase(u);
      state->lastGoodRelease.erase(u);
      state->pinned.erase(u);
      state->rollbackRequests.erase(u);
      if (auto e = run("DELETE FROM observations WHERE unit = ?1", {u}))
        return fail(std::move(e));
    }
    if (auto e = writeState(*state, now))
      return fail(std::move(e));
    return exec("COMMIT;");
  }

  llvm::Error appendJournal(const std::vector<Transition> &entries, int64_t now) override {
    if (auto e = exec("BEGIN IMMEDIATE;"))
      return e;
    for (auto &t : entries)
      if (auto e = run("INSERT INTO journal (at_ms, unit, release, from_state, to_state, why) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       {std::to_string(now), t.unit, t.release, t.from, t.to, t.why})) {
        llvm::consumeError(exec("ROLLBACK;"));
        return e;
      }
    return exec("COMMIT;");
  }

  llvm::Error addToken(const TokenRecord &t) override {
    return run("INSERT INTO tokens (hash, identity, created_by, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
               {t.hash, t.identity, t.createdBy, std::to_string(t.createdAtMs)});
  }
  llvm::Expected<std::optional<TokenRecord>> findToken(const std::string &hash) override {
    std::optional<TokenRecord> out;
    if (auto e = query("SELECT hash, identity, created_by, created_at_ms FROM tokens WHERE hash = ?1 AND "
                       "revoked_at_ms IS NULL",
                       {hash}, [&](sqlite3_stmt *s) {
                         out = TokenRecord{col(s, 0), col(s, 1), col(s, 2), sqlite3_column_int64(s, 3), -1};
                       }))
      return e;
    return out;
  }
  llvm::Expected<std::vector<TokenRecord>> tokens() override {
    std::vector<TokenRecord> out;
    if (auto e = query("SELECT hash, identity, created_by, created_at_ms, COALESCE(revoked_at_ms, -1) FROM tokens "
                       "ORDER BY created_at_ms, rowid",
                       {}, [&](sqlite3_stmt *s) {
                         out.push_back({col(s, 0), col(s, 1), col(s, 2), sqlite3_column_int64(s, 3),
                                        sqlite3_column_int64(s, 4)});
                       }))
      return e;
    return out;
  }
  llvm::Expected<int> revokeTokens(const std::string &identity, int64_t now) override {
    if (auto e = run("UPDATE tokens SET revoked_at_ms = ?2 WHERE identity = ?1 AND revoked_at_ms IS NULL",
                     {identity, std::to_string(now)}))
      return e;
    return sqlite3_changes(db_);
  }

  llvm::Expected<std::vector<JournalEntry>> history(const std::string &unit) override {
    std::vector<JournalEntry> out;
    const char *sql = unit.empty()
                          ? "SELECT id, at_ms, unit, release, from_state, to_state, why FROM journal ORDER BY id"
                          : "SELECT id, at_ms, unit, release, from_state, to_state, why FROM journal WHERE unit = ?1 ORDER BY id";
    std::vector<std::string> args;
    if (!unit.empty())
      args.push_back(unit);
    if (auto e = query(sql, args, [&](sqlite3_stmt *s) {
          out.push_back({sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                         {col(s, 2), col(s, 3), col(s, 4), col(s, 5), col(s, 6)}});
        }))
      return e;
    return out;
  }

private:
  static std::string col(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char *>(t) : "";
  }
  llvm::Error error(const char *what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "state store: %s: %s", what, sqlite3_errmsg(db_));
  }
  llvm::Error exec(const char *sql) {
    char *msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "unknown error";
      sqlite3_free(msg);
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "state store: %s", m.c_str());
    }
    return llvm::Error::success();
  }
  template <typename RowFn>
  llvm::Error query(const char *sql, const std::vector<std::string> &args, RowFn onRow) {
    sqlite3_stmt *stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
      return error("prepare");
    for (size_t i = 0; i < args.size(); ++i)
      sqlite3_bind_text(stmt, int(i + 1), args[i].c_str(), int(args[i].size()), SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
      onRow(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? llvm::Error::success() : error("step");
  }
  llvm::Error run(const char *sql, const std::vector<std::string> &args) {
    return query(sql, args, [](sqlite3_stmt *) {});
  }

  sqlite3 *db_;
  bool readOnly_ = false;
  std::string lastWritten_;   ///< the state text as last written or read
  int64_t lastRevision_ = -1; ///< its revision (-2: unknown since our write)
};

} // namespace

llvm::Expected<std::unique_ptr<Store>> openSqliteStoreReadOnly(const std::string &path) {
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open state file %s: %s", path.c_str(),
                                   msg.c_str());
  }
  auto store = std::make_unique<SqliteStore>(db, /*readOnly=*/true);
  if (auto e = store->init())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open state file %s: %s", path.c_str(),
                                   llvm::toString(std::move(e)).c_str());
  return std::unique_ptr<Store>(std::move(store));
}

llvm::Expected<std::unique_ptr<Store>> openSqliteStore(const std::string &path) {
  // The store and the WAL and shared-memory files SQLite creates beside it
  // are private to deployd's user, whatever the umask (issue 10.7).
  // SQLite creates the WAL and shared-memory files with the main file's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return llvm::createStringError(std::error_code(errno, std::generic_category()), "cannot open state file %s: %s",
                                   path.c_str(), strerror(errno));
  fchmod(fd, 0600);
  ::close(fd);
  for (const char *suffix : {"-wal", "-shm"})
    ::chmod((path + suffix).c_str(), 0600); // from an older deployd, if any
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open state file %s: %s", path.c_str(),
                                   msg.c_str());
  }
  auto store = std::make_unique<SqliteStore>(db);
  if (auto e = store->init())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open state file %s: %s", path.c_str(),
                                   llvm::toString(std::move(e)).c_str());
  return std::unique_ptr<Store>(std::move(store));
}

} // namespace dpl::runtime
