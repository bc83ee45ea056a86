// The reconcile loop.
#include "runtime/daemon/Daemon.h"

#include "runtime/adapters/Registry.h"
#include "runtime/failpoint/Failpoint.h"

#include <sys/file.h>

#include <filesystem>
#include <set>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace dpl::runtime {

namespace {

/// Versions, health and apply failures, through each unit's adapter.
class RuntimeSignals : public SignalSource {
public:
  RuntimeSignals(std::function<Adapter *(const PlanUnit &)> adapterFor,
                 const std::map<std::string, std::string> &applyFailed)
      : adapterFor_(std::move(adapterFor)), applyFailed_(applyFailed) {}
  const char *name() const override { return "runtime"; }
  llvm::Error observe(const Plan &plan, int64_t, Observations &into) override {
    for (const PlanUnit &u : plan.units) {
      Adapter *adapter = adapterFor_(u);
      UnitObservation o;
      if (adapter)
        o = adapter->observe(u);
      else
        o.reachable = false;
      if (auto failed = applyFailed_.find(u.id); failed != applyFailed_.end()) {
        o.applyFailed = true;
        o.applyError = failed->second;
      }
      into.units[u.id] = std::move(o);
    }
    return llvm::Error::success();
  }

private:
  std::function<Adapter *(const PlanUnit &)> adapterFor_;
  const std::map<std::string, std::string> &applyFailed_;
};

/// Approvals and resource states recorded through the control API.
class StoreSignals : public SignalSource {
public:
  explicit StoreSignals(Store &store) : store_(store) {}
  const char *name() const override { return "approvals and resources"; }
  llvm::Error observe(const Plan &, int64_t, Observations &into) override { return store_.loadSignals(into); }

private:
  Store &store_;
};

/// Results of the test commands the daemon ran.
class TestSignals : public SignalSource {
public:
  explicit TestSignals(const std::map<std::string, bool> &tests) : tests_(tests) {}
  const char *name() const override { return "tests"; }
  llvm::Error observe(const Plan &, int64_t, Observations &into) override {
    into.tests = tests_;
    return llvm::Error::success();
  }

private:
  const std::map<std::string, bool> &tests_;
};

} // namespace

Daemon::Daemon(const Plan &plan, Store &store, std::function<void(const std::string &)> log)
    : plan_(plan), store_(store), log_(std::move(log)) {
  // `metric` and `alerts` have no sources yet (Prometheus and Alertmanager
  // come next): their guards see "no data", which never passes.
  addSource(std::make_unique<StoreSignals>(store_));
  addSource(std::make_unique<RuntimeSignals>([this](const PlanUnit &u) { return adapterFor(u); }, applyFailed_));
  addSource(std::make_unique<TestSignals>(tests_));
}

void Daemon::addSource(std::unique_ptr<SignalSource> source) { sources_.push_back(std::move(source)); }

Adapter *Daemon::adapterFor(const PlanUnit &unit) {
  const llvm::json::Object *rt = unit.runtime.getAsObject();
  std::string kind = rt ? rt->getString("kind").getValueOr("").str() : "";
  std::string key = unit.environment + "|" + kind;
  auto it = adapters_.find(key);
  if (it == adapters_.end()) {
    const AdapterKind *k = findAdapterKind(kind);
    it = adapters_.emplace(key, k ? k->make(plan_, unit.environment) : nullptr).first;
  }
  return it->second.get(); // null: no adapter for this kind yet (kubernetes, plugin)
}

llvm::Error Daemon::lockTargets() {
  std::set<std::string> seen;
  for (const PlanUnit &u : plan_.units) {
    Adapter *adapter = adapterFor(u);
    if (!adapter)
      continue;
    for (const std::string &target : adapter->targets(u)) {
      if (target.empty() || !seen.insert(target).second)
        continue;
      std::error_code ec;
      std::filesystem::create_directories(target, ec);
      std::string path = target + "/.deployd.lock";
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        continue; // not a directory now: the adapter reports it disconnected
      if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "the runtime target %s (of %s) is managed by another deployd (lock %s is "
                                       "held); two daemons never manage one target",
                                       target.c_str(), u.id.c_str(), path.c_str());
      }
      targetLocks_.push_back(fd);
    }
  }
  return llvm::Error::success();
}

/// Starts a `test(command, timeout)` verification in its own process group:
/// argv (or `sh -c` for a string command, as written by the policy author).
/// It runs while ticks go on; reapTests() collects it. Returns false when it
/// could not be started.
bool Daemon::startTest(const Action &a) {
  const PlanUnit *unit = plan_.unit(a.unit);
  const PlanState *s = unit ? unit->state(a.detail) : nullptr;
  if (!s)
    return false;
  const std::string &version = a.version;
  // `${port}` and other runtime values of the version under test.
  std::map<std::string, std::string> vars;
  if (Adapter *adapter = adapterFor(*unit))
    vars = adapter->variables(*unit, version);
  auto expand = [&](std::string text) {
    text = substituteVersion(text, version);
    for (auto &[name, value] : vars)
      for (size_t p; (p = text.find("${" + name + "}")) != std::string::npos;)
        text.replace(p, name.size() + 3, value);
    return text;
  };
  std::vector<std::string> argv;
  if (auto cmd = s->params.getString("command"))
    argv = {"/bin/sh", "-c", expand(cmd->str())};
  else if (const llvm::json::Array *list = s->params.getArray("command"))
    for (auto &arg : *list)
      argv.push_back(expand(arg.getAsString().getValueOr("").str()));
  if (argv.empty())
    return false;
  double timeout = s->params.getNumber("timeout").getValueOr(300);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    execArgvOrExit(argv);
  }
  if (pid < 0)
    return false;
  running_.push_back({pid, std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout * 1000)), a});
  return true;
}

void Daemon::reapTests(int64_t nowMs) {
  for (size_t i = 0; i < running_.size();) {
    RunningTest &t = running_[i];
    int status = 0;
    pid_t done = waitpid(t.pid, &status, WNOHANG);
    bool timedOut = done == 0 && std::chrono::steady_clock::now() > t.deadline;
    if (done == 0 && !timedOut) {
      ++i;
      continue;
    }
    if (timedOut) {
      kill(-t.pid, SIGKILL);
      waitpid(t.pid, &status, 0);
    }
    bool ok = !timedOut && done == t.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const Action &a = t.action;
    tests_[a.unit + "|" + a.release + "|" + a.detail] = ok;
    log_(a.unit + ": test " + a.detail + (ok ? " passed" : timedOut ? " timed out" : " failed"));
    if (llvm::Error e = store_.markDone(a.key(), nowMs))
      log_("store: " + llvm::toString(std::move(e)));
    running_.erase(running_.begin() + i);
  }
}

Daemon::~Daemon() {
  for (int fd : targetLocks_)
    close(fd);
  // Unfinished tests are re-run from their journalled intents next time.
  for (RunningTest &t : running_) {
    kill(-t.pid, SIGKILL);
    waitpid(t.pid, nullptr, 0);
  }
}

void Daemon::execute(const Action &a, int64_t nowMs) {
  const PlanUnit *unit = plan_.unit(a.unit);
  if (!unit)
    return;
  Adapter *adapter = adapterFor(*unit);
  switch (a.kind) {
  case Action::Kind::Apply:
  case Action::Kind::Rollback: {
    if (!adapter) {
      log_(a.unit + ": no adapter for this runtime kind");
      break;
    }
    llvm::Error e = a.kind == Action::Kind::Apply ? adapter->apply(*unit, a.version)
                                                   : adapter->rollback(*unit, a.version);
    if (e) {
      std::string why = llvm::toString(std::move(e));
      log_(a.unit + ": " + (a.kind == Action::Kind::Apply ? "apply" : "rollback") + " failed: " + why);
      if (a.kind == Action::Kind::Apply)
        applyFailed_[a.unit] = why;
      break;
    }
    if (a.kind == Action::Kind::Apply)
      applyFailed_.erase(a.unit);
    log_(a.unit + ": " + (a.kind == Action::Kind::Apply ? "applied " : "rolled back to ") +
         (a.version.empty() ? "nothing" : a.version));
    break;
  }
  case Action::Kind::Notify:
    log_("notify: " + a.unit + " " + a.detail + " (release " + a.release + ")");
    break;
  case Action::Kind::RunTest:
    // Marked done when it finishes (reapTests), so a test cut short by a
    // crash runs again from its intent.
    if (startTest(a)) {
      log_(a.unit + ": test " + a.detail + " started");
      return;
    }
    tests_[a.unit + "|" + a.release + "|" + a.detail] = false;
    log_(a.unit + ": test " + a.detail + " could not be started");
    break;
  }
  failpoint("daemon-before-mark-done");
  if (llvm::Error e = store_.markDone(a.key(), nowMs))
    log_("store: " + llvm::toString(std::move(e)));
  failpoint("daemon-after-mark-done");
}

size_t Daemon::stopAll() {
  std::vector<const PlanUnit *> units;
  for (const PlanUnit &u : plan_.units)
    units.push_back(&u);
  return stopUnits(units);
}

size_t Daemon::stopUnits(const std::vector<const PlanUnit *> &units) {
  size_t failed = 0;
  for (const PlanUnit *unit : units) {
    const PlanUnit &u = *unit;
    Adapter *adapter = adapterFor(u);
    if (!adapter)
      continue;
    if (llvm::Error e = adapter->rollback(u, "")) {
      log_(u.id + ": cannot stop: " + llvm::toString(std::move(e)));
      ++failed;
    } else {
      log_(u.id + ": stopped");
    }
  }
  return failed;
}

llvm::Error Daemon::replayPending(int64_t nowMs) {
  auto pending = store_.pendingIntents();
  if (!pending)
    return pending.takeError();
  for (const Action &a : *pending) {
    log_("re-executing journalled intent " + a.key());
    // A test cut short by a stop runs again from the start: said, not hidden.
    if (a.kind == Action::Kind::RunTest)
      if (llvm::Error e = store_.appendJournal({{a.unit, a.release, "verifying", "verifying",
                                                 "test " + a.detail + " runs again: deployd stopped while it ran"}},
                                               nowMs))
        return e;
    execute(a, nowMs);
  }
  return llvm::Error::success();
}

llvm::Expected<TickReport> Daemon::tick(int64_t nowMs) {
  // A CLI command that changes the state between our load and our commit
  // (a release, a rollback request) makes the commit refuse; decide again on
  // the newer state rather than overwrite it. Nothing has run yet then.
  for (int attempt = 0;; ++attempt) {
    auto report = tickOnce(nowMs);
    if (report || attempt == 4)
      return report;
    llvm::Error rest = llvm::handleErrors(report.takeError(), [](const StateConflict &) {});
    if (rest)
      return rest;
  }
}

llvm::Expected<TickReport> Daemon::tickOnce(int64_t nowMs) {
  reapTests(nowMs);
  int64_t revision = 0;
  auto state = store_.loadState(&revision);
  if (!state)
    return state.takeError();
  Observations obs;
  for (auto &source : sources_)
    if (llvm::Error e = source->observe(plan_, nowMs, obs)) {
      std::string why = llvm::toString(std::move(e));
      log_(std::string("signals: ") + source->name() + ": " + why + " (observed as no data this tick)");
    }
  if (llvm::Error e = store_.recordObservations(obs.units, nowMs))
    return e;
  StepResult r = step(plan_, std::move(*state), obs, nowMs);
  // Write-ahead: the decision and its intents are durable before anything runs.
  failpoint("daemon-before-commit");
  if (llvm::Error e = store_.commitStep(r.state, r.journal, r.actions, nowMs, revision))
    return e;
  failpoint("daemon-after-commit");
  for (const Transition &t : r.journal)
    log_(t.unit + ": " + t.from + " → " + t.to + " (" + t.why + ")");
  for (const Action &a : r.actions)
    execute(a, nowMs);
  TickReport report;
  report.nextRunAtMs = r.nextRunAtMs;
  report.actions = r.actions.size();
  report.transitions = r.journal.size();
  for (auto &[unit, run] : r.state.runs)
    report.busy |= run.phase == RunPhase::Applying || run.phase == RunPhase::Verifying ||
                   run.phase == RunPhase::RollingBack;
  return report;
}

} // namespace dpl::runtime
