// `deployd status [--watch]`: every unit's release, desired and actual
// version, state, since when, and what it waits on. From the running
// daemon; when none runs, from the store (read-only), saying so.
#include "runtime/cli/Cli.h"

#include "runtime/control/Api.h"
#include "runtime/store/Store.h"

#include "common/CanonicalJson.h"
#include "common/Time.h"

#include <llvm/Support/raw_ostream.h>

#include <filesystem>
#include <unistd.h>

namespace dpl::runtime::cli {

namespace {

/// The snapshot and whether it is live. Exit code on failure.
int snapshot(const Globals &g, const std::string &planPath, llvm::json::Object &out, bool &live) {
  if (controlListening(g.socketPath())) {
    live = true;
    return callDaemon(g, "status", llvm::json::Object{}, out);
  }
  live = false;
  std::unique_ptr<Store> store;
  if (int rc = openStoreReadOnly(g, store); rc >= 0)
    return rc;
  std::unique_ptr<Plan> plan;
  if (!planPath.empty()) {
    if (auto p = loadPlanFile(planPath))
      plan = std::make_unique<Plan>(std::move(*p));
    else
      llvm::consumeError(p.takeError());
  }
  out = statusSnapshot(*store, plan.get());
  if (auto e = out.getString("error"))
    return fail(e->str());
  return -1;
}

std::string actualOf(const llvm::json::Object &row) {
  if (!row.get("reachable"))
    return "?";
  if (!row.getBoolean("reachable").getValueOr(false))
    return "disconnected";
  std::string v = row.getString("actual").getValueOr("").str();
  if (v.empty())
    return "-";
  llvm::StringRef health = row.getString("health").getValueOr("");
  return v + (health == "unhealthy" ? " unhealthy" : health == "unknown" ? " starting" : "");
}

int render(const llvm::json::Object &snap, bool live, const Globals &g, bool header, const std::string &headerText) {
  if (g.output == "json") {
    llvm::json::Object out(snap);
    out["live"] = live;
    llvm::outs() << prettyJson(llvm::json::Value(std::move(out))) << "\n";
    return ExitOk;
  }
  int64_t now = wallNowMs();
  if (!live) {
    int64_t last = snap.getInteger("last_observed_ms").getValueOr(-1);
    llvm::outs() << "deployd is not running (nothing listens on " << safe(g.socketPath())
                 << "): the state it recorded last" << (last >= 0 ? ", at " + stamp(last) : std::string())
                 << ", not live\n";
  } else if (header) {
    llvm::outs() << "deployd status at " << stamp(now);
    if (const llvm::json::Object *d = snap.getObject("daemon")) {
      int64_t clock = d->getInteger("now_ms").getValueOr(now);
      if (std::llabs(clock - now) > 60000)
        llvm::outs() << " (deployd's clock: " << stamp(clock) << ")";
    }
    llvm::outs() << " " << headerText << "\n";
  }
  std::vector<std::vector<std::string>> rows{{"UNIT", "RELEASE", "DESIRED", "ACTUAL", "STATE", "SINCE", "WAITING ON"}};
  if (const llvm::json::Array *units = snap.getArray("units"))
    for (auto &v : *units) {
      const llvm::json::Object &row = *v.getAsObject();
      std::string unit = row.getString("unit").getValueOr("").str();
      std::string actual = actualOf(row);
      if (!row.getString("state")) {
        rows.push_back({unit, "-", "-", actual, row.getBoolean("orphaned").getValueOr(false) ? "orphaned" : "-", "-",
                        row.getBoolean("orphaned").getValueOr(false) ? "not in the plan" : "no release yet"});
        continue;
      }
      std::string desired = row.getString("desired").getValueOr("").str();
      std::string waiting = row.getString("waiting").getValueOr("").str();
      if (auto d = row.getInteger("disconnected_since_ms"))
        waiting = "disconnected since " + stamp(*d);
      if (auto p = row.getString("pinned_by"))
        waiting = "pinned by " + p->str() + " (deployd resume " + unit + ")";
      std::string state = row.getString("state").getValueOr("").str();
      if (row.getBoolean("orphaned").getValueOr(false)) {
        state = "orphaned";
        waiting = "not in the plan; still running (deployd prune " + unit.substr(unit.find('@') + 1) + ")";
      }
      rows.push_back({unit, row.getString("release").getValueOr("-").str(), desired.empty() ? "-" : desired, actual,
                      state, stamp(row.getInteger("since_ms").getValueOr(0)), waiting});
    }
  printTable(rows);
  return ExitOk;
}

} // namespace

Runner setupStatus(CLI::App &sub, Globals &g) {
  struct Options {
    bool watch = false;
    std::string interval = "1s", plan;
  };
  auto o = std::make_shared<Options>();
  sub.add_flag("--watch", o->watch, "Redraw the table until interrupted");
  sub.add_option("--interval", o->interval, "Time between redraws with --watch");
  sub.add_option("--plan", o->plan, "Plan for rollout order when no daemon runs (default .deploy/plan.json)");
  return [&g, o] {
    std::string plan = o->plan;
    std::error_code ec;
    if (plan.empty() && std::filesystem::exists(".deploy/plan.json", ec))
      plan = ".deploy/plan.json";
    auto interval = dpl::parseDurationText(o->interval);
    if (!interval || *interval <= 0)
      return fail("--interval: expected a duration such as 1s or 500ms, found `" + o->interval + "`", ExitUsage);
    if (!o->watch) {
      llvm::json::Object snap;
      bool live = false;
      if (int rc = snapshot(g, plan, snap, live); rc >= 0)
        return rc;
      return render(snap, live, g, false, "");
    }
    stopOnSignals();
    bool tty = isatty(STDOUT_FILENO);
    while (!stopRequested()) {
      llvm::json::Object snap;
      bool live = false;
      if (int rc = snapshot(g, plan, snap, live); rc >= 0)
        return rc;
      if (tty)
        llvm::outs() << "\x1b[H\x1b[2J"; // home and clear: a live table
      render(snap, live, g, true, "(every " + o->interval + "; Ctrl-C to stop)");
      if (!tty)
        llvm::outs() << "\n";
      llvm::outs().flush();
      sleepInterruptibly(*interval);
    }
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
