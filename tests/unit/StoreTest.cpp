// SQLite store tests: migrations, atomic step commits, write-ahead intents,
// signals, journal, and state surviving a reopen.
#include "runtime/store/Store.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dpl::runtime;

namespace {

struct TempStore {
  std::string dir, path;
  TempStore() {
    llvm::SmallString<128> d;
    llvm::sys::fs::createUniqueDirectory("store-test", d);
    dir = std::string(d);
    path = dir + "/state.db";
  }
  ~TempStore() { llvm::sys::fs::remove_directories(dir); }
  std::unique_ptr<Store> open() {
    auto s = openSqliteStore(path);
    EXPECT_TRUE(bool(s)) << (s ? "" : llvm::toString(s.takeError()));
    return s ? std::move(*s) : nullptr;
  }
  int pragma(const char *sql) {
    sqlite3 *db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }
};

EngineState sampleState() {
  EngineState s;
  s.releases.push_back({"r1", "api", "v1", "@ci", 1000});
  UnitRun run;
  run.release = "r1";
  run.version = "v1";
  run.phase = RunPhase::Verifying;
  run.state = 3;
  run.enteredAtMs = 5000;
  run.healthySinceMs = 6000;
  run.waitingOn = "soaked 1s of 10s";
  s.runs["api@dev"] = run;
  s.lastGood["api@prod"] = "v0";
  return s;
}

} // namespace

TEST(Store, NewStoreIsMigratedToTheCurrentSchemaInWalMode) {
  TempStore t;
  auto store = t.open();
  ASSERT_TRUE(store);
  auto state = store->loadState();
  ASSERT_TRUE(bool(state));
  EXPECT_TRUE(state->runs.empty());
  store.reset();
  EXPECT_EQ(t.pragma("PRAGMA user_version"), kStoreSchemaVersion);
  sqlite3 *db;
  sqlite3_open(t.path.c_str(), &db);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char *>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(Store, RefusesAStateFileFromANewerDeployd) {
  TempStore t;
  t.open().reset();
  sqlite3 *db;
  sqlite3_open(t.path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = openSqliteStore(t.path);
  ASSERT_FALSE(bool(s));
  EXPECT_NE(llvm::toString(s.takeError()).find("schema version 99, newer than this deployd"), std::string::npos);
}

TEST(Store, StepCommitRoundTripsStateJournalAndIntents) {
  TempStore t;
  {
    auto store = t.open();
    std::vector<Transition> journal = {{"api@dev", "r1", "gated", "applying", "gates passed"}};
    std::vector<Action> actions = {{Action::Kind::Apply, "api@dev", "r1", "v1", ""}};
    ASSERT_FALSE(bool(store->commitStep(sampleState(), journal, actions, 7000)));
  }
  // A new process (daemon restart) sees exactly what was committed.
  auto store = t.open();
  auto state = store->loadState();
  ASSERT_TRUE(bool(state));
  EXPECT_EQ(stateToJson(*state), stateToJson(sampleState()));
  auto pending = store->pendingIntents();
  ASSERT_TRUE(bool(pending));
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].key(), "apply|api@dev|r1|v1|");
  auto history = store->history("api@dev");
  ASSERT_TRUE(bool(history));
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].transition.to, "applying");
  EXPECT_EQ((*history)[0].atMs, 7000);
}

TEST(Store, IntentsAreExactlyOnce) {
  TempStore t;
  auto store = t.open();
  Action apply{Action::Kind::Apply, "api@dev", "r1", "v1", ""};
  ASSERT_FALSE(bool(store->commitStep(sampleState(), {}, {apply}, 1)));
  ASSERT_FALSE(bool(store->commitStep(sampleState(), {}, {apply}, 2))); // same key: one intent
  EXPECT_EQ(store->pendingIntents()->size(), 1u);
  ASSERT_FALSE(bool(store->markDone(apply.key(), 3)));
  EXPECT_TRUE(store->pendingIntents()->empty());
  ASSERT_FALSE(bool(store->commitStep(sampleState(), {}, {apply}, 4))); // already done: not again
  EXPECT_TRUE(store->pendingIntents()->empty());
}

TEST(Store, ReleasesApprovalsAndResourcesBecomeObservations) {
  TempStore t;
  auto store = t.open();
  ASSERT_FALSE(bool(store->addRelease({"r1", "api", "v1", "@ci", 10})));
  ASSERT_FALSE(bool(store->recordApproval({"api@prod", "r1", "sre", "@ann", "sha256:x"}, 11)));
  ASSERT_FALSE(bool(store->recordApproval({"api@prod", "r1", "sre", "@ann", "sha256:x"}, 12))); // idempotent
  ASSERT_FALSE(bool(store->setResource("db", false, 13)));
  ASSERT_FALSE(bool(store->setResource("db", true, 14)));
  Observations obs;
  ASSERT_FALSE(bool(store->loadSignals(obs)));
  EXPECT_EQ(obs.approvals["api@prod|r1|sre"], (std::set<std::string>{"@ann"}));
  EXPECT_TRUE(obs.resources["db"]);
  EXPECT_EQ(store->loadState()->releases.size(), 1u);
}

TEST(Store, CorruptStateIsAnErrorNotACrash) {
  TempStore t;
  t.open().reset();
  sqlite3 *db;
  sqlite3_open(t.path.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO state (id, json, updated_at_ms) VALUES (1, '{\"runs\": {\"x\": {\"phase\": \"exploded\"}}}', 0)",
               nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto store = t.open();
  auto state = store->loadState();
  ASSERT_FALSE(bool(state));
  EXPECT_EQ(llvm::toString(state.takeError()), "corrupt engine state: unknown phase `exploded`");
}

TEST(Store, AStepDecidedOnAnOlderStateIsRefusedNotLost) {
  TempStore t;
  auto store = t.open();
  int64_t revision = -1;
  ASSERT_TRUE(bool(store->loadState(&revision)));
  EXPECT_EQ(revision, 0);
  // The daemon decides on revision 0; meanwhile a `release` command commits.
  ASSERT_FALSE(bool(store->addRelease({"r1", "api", "v1", "@ci", 10})));
  Action apply{Action::Kind::Apply, "api@dev", "r0", "v0", ""};
  llvm::Error e = store->commitStep(EngineState{}, {{"api@dev", "r0", "a", "b", "stale"}}, {apply}, 11, revision);
  ASSERT_TRUE(bool(e));
  EXPECT_TRUE(e.isA<StateConflict>());
  llvm::consumeError(std::move(e));
  // Nothing of the refused step was written; the release is still there.
  EXPECT_EQ(store->loadState(&revision)->releases.size(), 1u);
  EXPECT_EQ(revision, 1);
  EXPECT_TRUE(store->history("")->empty());
  EXPECT_TRUE(store->pendingIntents()->empty());
  // Decided again on the current revision, it commits.
  ASSERT_FALSE(bool(store->commitStep(*store->loadState(), {}, {apply}, 12, revision)));
  EXPECT_EQ(store->pendingIntents()->size(), 1u);
}

TEST(Store, ManyProcessesOpeningANewStoreAtOnceMigrateItOnce) {
  TempStore t;
  // Forked processes race to create and migrate the same new file.
  std::vector<pid_t> children;
  for (int i = 0; i < 6; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      auto s = openSqliteStore(t.path);
      if (!s)
        fprintf(stderr, "child: %s\n", llvm::toString(s.takeError()).c_str());
      _exit(s ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(t.pragma("PRAGMA user_version"), kStoreSchemaVersion);
}

namespace {
void execSql(const std::string &path, const std::string &sql) {
  sqlite3 *db;
  sqlite3_open(path.c_str(), &db);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}
} // namespace

TEST(Store, ATamperedIntentIsAnErrorNeverAnAction) {
  // Before: an intent version `../../../../etc` made a static `current`
  // point at /etc, and an out-of-range kind was executed as something.
  TempStore t;
  {
    auto store = openSqliteStore(t.path);
    ASSERT_TRUE(bool(store));
    Action a{Action::Kind::Apply, "web@prod", "r1", "1.0.0", ""};
    ASSERT_FALSE(bool((*store)->commitStep(EngineState{}, {}, {a}, 1)));
  }
  execSql(t.path, "UPDATE intents SET action = replace(action, '1.0.0', '../../../../etc')");
  {
    auto store = openSqliteStore(t.path);
    auto pending = (*store)->pendingIntents();
    ASSERT_FALSE(bool(pending));
    EXPECT_EQ(llvm::toString(pending.takeError()),
              "corrupt intent `apply|web@prod|r1|1.0.0|`: invalid version `../../../../etc`");
  }
  execSql(t.path, "UPDATE intents SET action = '{\"kind\":7,\"unit\":\"web@prod\",\"release\":\"r1\",\"version\":\"1.0.0\",\"detail\":\"\"}'");
  {
    auto store = openSqliteStore(t.path);
    auto pending = (*store)->pendingIntents();
    ASSERT_FALSE(bool(pending));
    EXPECT_EQ(llvm::toString(pending.takeError()), "corrupt intent `apply|web@prod|r1|1.0.0|`: unknown kind");
  }
}

TEST(Store, ATamperedReleaseVersionIsRefusedWhenTheStateIsRead) {
  TempStore t;
  {
    auto store = openSqliteStore(t.path);
    ASSERT_FALSE(bool((*store)->addRelease({"r1", "web", "1.0.0", "@ci", 1, ""})));
  }
  execSql(t.path, "UPDATE state SET json = replace(json, '\"1.0.0\"', '\"../../etc\"')");
  auto store = openSqliteStore(t.path);
  auto state = (*store)->loadState();
  ASSERT_FALSE(bool(state));
  EXPECT_EQ(llvm::toString(state.takeError()),
            "corrupt engine state: release 0 has an invalid id, service or version `../../etc`");
}

TEST(Store, FilesArePrivateWhateverTheUmask) {
  TempStore t;
  mode_t old = umask(0);
  {
    auto store = openSqliteStore(t.path);
    ASSERT_TRUE(bool(store));
    ASSERT_FALSE(bool((*store)->addRelease({"r1", "web", "1.0.0", "@ci", 1, ""})));
  }
  umask(old);
  for (const char *suffix : {"", "-wal", "-shm"}) {
    struct stat st;
    if (stat((t.path + suffix).c_str(), &st) == 0)
      EXPECT_EQ(st.st_mode & 0777, 0600u) << suffix;
  }
}
