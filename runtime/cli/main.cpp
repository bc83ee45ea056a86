// deployd: the runtime. `run` drives every environment of a compiled plan
// to convergence; the other commands record releases, approvals and
// resource states in the shared store and report status and history.
#include "runtime/daemon/Daemon.h"

#include <CLI/CLI.hpp>
#include <llvm/Support/Format.h>
#include <llvm/Support/raw_ostream.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

using namespace dpl::runtime;

namespace {

enum ExitCode { ExitOk = 0, ExitFailure = 1, ExitUsage = 2 };

volatile std::sig_atomic_t gStop = 0;
void onSignal(int) { gStop = 1; }

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string stamp(int64_t ms) {
  std::time_t s = ms / 1000;
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int fail(const std::string &message, int code = ExitFailure) {
  llvm::errs() << "deployd: error: " << message << "\n";
  return code;
}

std::unique_ptr<Store> openStore(const std::string &path) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent, ec);
  auto store = openSqliteStore(path);
  if (!store) {
    fail(llvm::toString(store.takeError()), ExitUsage);
    return nullptr;
  }
  return std::move(*store);
}

/// Parses "30s", "500ms", "2m" into milliseconds; -1 when malformed.
int64_t parseDuration(const std::string &s) {
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i])))
    ++i;
  if (i == 0)
    return -1;
  int64_t n = std::stoll(s.substr(0, i));
  std::string unit = s.substr(i);
  if (unit == "ms")
    return n;
  if (unit == "s" || unit.empty())
    return n * 1000;
  if (unit == "m")
    return n * 60000;
  return -1;
}

int runDaemon(const std::string &planPath, const std::string &statePath, const std::string &tickText,
              bool untilIdle) {
  auto plan = loadPlanFile(planPath);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  int64_t tick = parseDuration(tickText);
  if (tick <= 0)
    return fail("--tick: expected a duration such as 1s or 500ms, found `" + tickText + "`", ExitUsage);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  // One engine per store: a second `run` is refused while the first holds the lock.
  std::string lockPath = statePath + ".lock";
  int lock = open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0)
    return fail("another `deployd run` is already using " + statePath + " (lock " + lockPath + " is held)",
                ExitUsage);
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  auto log = [](const std::string &line) { llvm::outs() << stamp(nowMs()) << "  " << line << "\n"; llvm::outs().flush(); };
  Daemon daemon(*plan, *store, log);
  if (llvm::Error e = daemon.replayPending(nowMs()))
    return fail(llvm::toString(std::move(e)));
  unsigned quiet = 0;
  while (!gStop) {
    auto report = daemon.tick(nowMs());
    if (!report)
      return fail(llvm::toString(report.takeError()));
    quiet = report->actions || report->transitions || report->busy ? 0 : quiet + 1;
    if (untilIdle && quiet >= 2) {
      log("idle: nothing to do until a release, an approval, a resource or a window changes");
      break;
    }
    for (int64_t waited = 0; waited < tick && !gStop; waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, tick - waited)));
  }
  if (gStop)
    log("stopping on signal; workloads keep running");
  return ExitOk;
}

int release(const std::string &statePath, const std::string &service, const std::string &version,
            const std::string &by) {
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  // The id is allocated inside the transaction: two concurrent `release`
  // commands never get the same one.
  Release r{"", service, version, by, nowMs()};
  if (llvm::Error e = store->mutateState(
          [&](EngineState &s) {
            r.id = "r" + std::to_string(s.releases.size() + 1);
            s.releases.push_back(r);
          },
          r.createdAtMs))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "release " << r.id << ": " << service << " " << version << " by " << by << "\n";
  return ExitOk;
}

int approve(const std::string &statePath, const std::string &planPath, const std::string &unitId,
            const std::string &who) {
  auto plan = loadPlanFile(planPath);
  if (!plan)
    return fail(llvm::toString(plan.takeError()), ExitUsage);
  const PlanUnit *unit = plan->unit(unitId);
  if (!unit)
    return fail("unknown unit `" + unitId + "` in " + planPath, ExitUsage);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  auto state = store->loadState();
  if (!state)
    return fail(llvm::toString(state.takeError()));
  const Release *latest = nullptr;
  for (auto &r : state->releases)
    if (r.service == unit->service)
      latest = &r;
  if (!latest)
    return fail("no release of `" + unit->service + "` to approve");
  std::vector<std::string> groups;
  bool member = false;
  for (auto &s : unit->states)
    if (s.guard == "approval") {
      std::string g = s.params.getString("group").getValueOr("").str();
      groups.push_back(g);
      if (const PlanGroup *pg = plan->group(g))
        member |= std::find(pg->members.begin(), pg->members.end(), who) != pg->members.end();
    }
  if (groups.empty())
    return fail(unitId + " needs no approval");
  if (!member)
    return fail(who + " may not approve " + unitId + ": not a member of " + groups.front());
  if (who == latest->createdBy)
    return fail(who + " created release " + latest->id + " and cannot approve it");
  if (llvm::Error e = store->recordApproval(unitId, latest->id, who, nowMs()))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "approved " << unitId << " release " << latest->id << " (" << latest->version << ") as " << who
               << "\n";
  return ExitOk;
}

int resource(const std::string &statePath, const std::string &name, const std::string &value) {
  if (value != "ready" && value != "not-ready")
    return fail("expected `ready` or `not-ready`, found `" + value + "`", ExitUsage);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  if (llvm::Error e = store->setResource(name, value == "ready", nowMs()))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "resource " << name << ": " << value << "\n";
  return ExitOk;
}

/// `rollback SERVICE@ENV` / `resume SERVICE@ENV`: recorded in the store and
/// carried out (and journalled) by the running engine at its next tick.
int pin(const std::string &statePath, const std::string &unit, const std::string &who, bool rollback) {
  if (unit.find('@') == std::string::npos)
    return fail("expected a unit as SERVICE@ENV, found `" + unit + "`", ExitUsage);
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  bool wasPinned = false;
  llvm::Error e = store->mutateState(
      [&](EngineState &s) {
        wasPinned = s.pinned.count(unit) != 0;
        if (rollback)
          s.rollbackRequests[unit] = who;
        else
          s.pinned.erase(unit);
      },
      nowMs());
  if (e)
    return fail(llvm::toString(std::move(e)));
  if (rollback)
    llvm::outs() << "rollback of " << unit << " requested by " << who
                 << "; the engine restores the last known good version at its next tick and pins the unit\n";
  else
    llvm::outs() << (wasPinned ? "resumed " : "not pinned: ") << unit << "\n";
  return ExitOk;
}

int status(const std::string &statePath) {
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  auto state = store->loadState();
  if (!state)
    return fail(llvm::toString(state.takeError()));
  auto row = [](llvm::StringRef a, llvm::StringRef b, llvm::StringRef c, llvm::StringRef d, llvm::StringRef e,
                llvm::StringRef f) {
    llvm::outs() << llvm::left_justify(a, 24) << " " << llvm::left_justify(b, 8) << " " << llvm::left_justify(c, 12)
                 << " " << llvm::left_justify(d, 16) << " " << llvm::left_justify(e, 21) << " " << f << "\n";
  };
  row("UNIT", "RELEASE", "VERSION", "STATE", "SINCE", "WAITING ON");
  for (auto &[unit, run] : state->runs) {
    std::string waiting = run.waitingOn;
    if (auto p = state->pinned.find(unit); p != state->pinned.end())
      waiting = "pinned by " + p->second + " (deployd resume " + unit + ")";
    row(unit, run.release, run.version, phaseName(run.phase), stamp(run.enteredAtMs), waiting);
  }
  return ExitOk;
}

int history(const std::string &statePath, const std::string &unit) {
  auto store = openStore(statePath);
  if (!store)
    return ExitUsage;
  auto entries = store->history(unit);
  if (!entries)
    return fail(llvm::toString(entries.takeError()));
  for (auto &e : *entries)
    llvm::outs() << stamp(e.atMs) << "  " << e.transition.unit << "  " << e.transition.release << "  "
                 << e.transition.from << " → " << e.transition.to << "  (" << e.transition.why << ")\n";
  return ExitOk;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"deployd: drives every environment to its desired version"};
  app.require_subcommand(1);
  std::string state = ".deploy/state.db";
  app.add_option("--state", state, "State file (SQLite)");

  std::string planPath, tick = "1s";
  bool untilIdle = false;
  CLI::App *run = app.add_subcommand("run", "Run the reconcile loop");
  run->add_option("--plan", planPath, "Compiled plan (deployc compile)")->required();
  run->add_option("--tick", tick, "Time between reconcile ticks (e.g. 1s, 500ms)");
  run->add_flag("--until-idle", untilIdle, "Exit once nothing can progress without a person or the clock");
  run->add_option("--state", state, "State file (SQLite)");

  std::string service, version, by = "@" + std::string(getenv("USER") ? getenv("USER") : "deployd");
  CLI::App *rel = app.add_subcommand("release", "Request a release of SERVICE at VERSION");
  rel->add_option("SERVICE", service)->required();
  rel->add_option("VERSION", version)->required();
  rel->add_option("--as", by, "Who creates the release");
  rel->add_option("--state", state, "State file (SQLite)");

  std::string unitId, who, approvePlan = ".deploy/plan.json";
  CLI::App *appr = app.add_subcommand("approve", "Approve the latest release for SERVICE@ENV");
  appr->add_option("UNIT", unitId)->required();
  appr->add_option("--as", who, "Who approves")->required();
  appr->add_option("--plan", approvePlan, "Compiled plan (for the approval groups)");
  appr->add_option("--state", state, "State file (SQLite)");

  std::string resName, resValue;
  CLI::App *res = app.add_subcommand("resource", "Mark an external resource ready or not-ready");
  res->add_option("NAME", resName)->required();
  res->add_option("STATE", resValue)->required();
  res->add_option("--state", state, "State file (SQLite)");

  std::string pinUnit, pinBy = by;
  CLI::App *rb = app.add_subcommand("rollback", "Return SERVICE@ENV to its last known good version now, and pin it");
  rb->add_option("UNIT", pinUnit)->required();
  rb->add_option("--as", pinBy, "Who rolls back");
  rb->add_option("--state", state, "State file (SQLite)");
  CLI::App *resume = app.add_subcommand("resume", "Let queued releases deploy to SERVICE@ENV again");
  resume->add_option("UNIT", pinUnit)->required();
  resume->add_option("--state", state, "State file (SQLite)");

  CLI::App *stat = app.add_subcommand("status", "Show every unit's release, state and what it waits on");
  stat->add_option("--state", state, "State file (SQLite)");

  std::string histUnit;
  CLI::App *hist = app.add_subcommand("history", "Show the decision journal");
  hist->add_option("UNIT", histUnit);
  hist->add_option("--state", state, "State file (SQLite)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    app.exit(e);
    return ExitUsage;
  }
  if (run->parsed())
    return runDaemon(planPath, state, tick, untilIdle);
  if (rel->parsed())
    return release(state, service, version, by);
  if (appr->parsed())
    return approve(state, approvePlan, unitId, who);
  if (res->parsed())
    return resource(state, resName, resValue);
  if (rb->parsed())
    return pin(state, pinUnit, pinBy, true);
  if (resume->parsed())
    return pin(state, pinUnit, pinBy, false);
  if (stat->parsed())
    return status(state);
  if (hist->parsed())
    return history(state, histUnit);
  return ExitUsage;
}
